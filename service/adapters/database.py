"""Engine and session factory for PostgreSQL (production) and SQLite (embedded default)."""

from __future__ import annotations

import math
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker


def _prepare_sqlite(dbapi_connection, _record) -> None:
    # SQLite leaves foreign keys off by default, and WAL lets the API read while a worker writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    # The distance filter uses the same SQL on both backends; SQLite may lack the math functions.
    for name, function in (
        ("radians", math.radians),
        ("sin", math.sin),
        ("cos", math.cos),
        ("asin", math.asin),
        ("sqrt", math.sqrt),
        ("floor", math.floor),
    ):
        dbapi_connection.create_function(name, 1, _null_safe(function), deterministic=True)


def _null_safe(function):
    def wrapped(value):
        return None if value is None else function(value)

    return wrapped


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, **kwargs) -> sa.Engine:
    # A failed statement's message is logged and kept (job_failures): without its parameters,
    # it cannot carry an email or a profile's free text.
    kwargs.setdefault("hide_parameters", True)
    url = normalise_url(url)
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, **kwargs)
        sa.event.listen(engine, "connect", _prepare_sqlite)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
