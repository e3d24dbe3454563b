"""outbox events carry the request id of the request that caused them

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 14:50:00

The relay and the sweep hand it to the event's job (RQ job meta), so the worker's log lines
share the request's id. Nullable: events recorded outside a request (the scheduler's) have none.
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=36), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a plain column in place (no table copy, as in 0007).
        op.execute("ALTER TABLE outbox_events DROP COLUMN request_id")
        return
    op.drop_column('outbox_events', 'request_id')
