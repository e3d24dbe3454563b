"""an index on outbox_events.subject

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 15:10:00

Erasing a member looks up the events about their rows by subject ("match_request:5"), 500
subjects at a time, inside the erasure's transaction: without an index, each lookup scanned
every event kept (30 days of them).
"""

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_events_subject', 'outbox_events', ['subject'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbox_events_subject', table_name='outbox_events')
