"""outbox event ids are never reused on SQLite

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 16:40:00

SQLite gives a new row the largest id + 1, so after an erasure deleted the newest events, the
next event could take the id of a deleted one. An event's job is named after its id
(`event-<id>`): a job of the deleted event still running could then mark the new event handled.
AUTOINCREMENT never hands an id out twice. PostgreSQL's sequences never did; nothing changes there.
"""

from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        'outbox_events', recreate='always', table_kwargs={'sqlite_autoincrement': autoincrement}
    ):
        pass


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)
