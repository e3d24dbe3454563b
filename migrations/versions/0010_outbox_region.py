"""outbox events may name the region whose queue they go to

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 16:20:00

Most matching events are routed by their subject's place. A virtual listing has none and fits
members everywhere: its fan-out is one event per region, each naming its region here, handled
with that region's model. Nullable: every other event is routed as before.
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sa.String(length=40), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a plain column in place (no table copy, as in 0007).
        op.execute("ALTER TABLE outbox_events DROP COLUMN region")
        return
    op.drop_column('outbox_events', 'region')
