"""The migrations build exactly the ORM's schema, on SQLite and PostgreSQL, and can be undone."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.adapters.database import make_engine
from service.adapters.migrations import current_heads, downgrade, upgrade
from service.adapters.orm import Base
from tests.conftest import postgres_or_skip, reset_postgres_schema, with_search_path

MIGRATION_SCHEMA = "kindred_migration_test"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    base = postgres_or_skip()
    reset_postgres_schema(base, MIGRATION_SCHEMA)
    return with_search_path(base, MIGRATION_SCHEMA)


def schema_differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_produce_the_orm_schema(empty_database_url):
    upgrade(empty_database_url)
    assert schema_differences(empty_database_url) == []
    assert set(Base.metadata.tables) <= table_names(empty_database_url)


def test_migrations_downgrade_to_nothing_and_back(empty_database_url):
    upgrade(empty_database_url)
    heads = current_heads(empty_database_url)
    downgrade(empty_database_url, "base")
    assert table_names(empty_database_url) <= {"alembic_version"}
    upgrade(empty_database_url)
    assert current_heads(empty_database_url) == heads
    assert schema_differences(empty_database_url) == []


def test_a_drifted_schema_is_detected(empty_database_url):
    """The check above would catch a model change without a migration."""
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE organizations ADD COLUMN stray INTEGER"))
    engine.dispose()
    differences = schema_differences(empty_database_url)
    assert any(diff[0] == "remove_column" and diff[3].name == "stray" for diff in differences)


def test_undoing_the_web_pages_migration_keeps_the_members_rows(empty_database_url):
    """0007's downgrade drops columns of members; on SQLite a table rebuild would have deleted
    every row referring to members (foreign keys cascade)."""
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO members (display_name, email, interests_text, travel_radius_km,"
                    " availability, attendance, languages, comfort_group_size, comfort_structure,"
                    " comfort_pace, start_slowly, notify_channels, digest_day, quiet_hours_start,"
                    " quiet_hours_end, timezone, max_notifications_per_week,"
                    " share_email_on_introduction, consent_matching, consent_peer_introductions,"
                    " token_hash, created_at, updated_at, last_active_at) VALUES ('A', 'a@x',"
                    " '', 5, '[]', 'in_person', '[]', 'small', 'structured', 'low_key', false,"
                    " '[]', 'sun', '21:00', '08:00', 'UTC', 3, false, true, false, 'h',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO member_tags (member_id, kind, tag) VALUES (1, 'interest', 'a')"
                )
            )
        downgrade(empty_database_url, "0006")
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM member_tags")).scalar() == 1
            columns = {c["name"] for c in sa.inspect(connection).get_columns("members")}
        assert "last_good_match_at" not in columns and "calendar_feed_key" not in columns
    finally:
        engine.dispose()
