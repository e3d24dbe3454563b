"""Which database errors mean "not now" (503, try again) and which mean "never" (a bug: 500)."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from service.adapters.database import make_engine
from service.services.unit_of_work import unreachable


def raised(engine: sa.Engine, statement: str) -> BaseException:
    with pytest.raises(sa.exc.DBAPIError) as caught, engine.connect() as connection:
        connection.execute(sa.text(statement))
    return caught.value


def test_a_missing_table_on_sqlite_is_a_bug_not_an_outage(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert not unreachable(raised(engine, "SELECT * FROM no_such_table"))
    assert not unreachable(raised(engine, "SELEKT 1"))


def test_a_locked_sqlite_file_is_an_outage(tmp_path):
    path = tmp_path / "x.db"
    holder = sqlite3.connect(path)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.1})
    try:
        assert unreachable(raised(engine, "SELECT * FROM t"))
    finally:
        holder.rollback()
        holder.close()


def test_a_refused_postgresql_connection_is_an_outage():
    engine = make_engine("postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")
    assert unreachable(raised(engine, "SELECT 1"))


def test_other_errors_are_not_outages():
    assert not unreachable(None)
    assert not unreachable(ValueError("a bug"))
