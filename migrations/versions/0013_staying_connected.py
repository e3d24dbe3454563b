"""staying connected: follow-ups, connection check-ins

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 00:05:59

Keep-in-touch follow-ups and the monthly connection check-in, with its own consent: the
consent_records.purpose CHECK constraint gains "connection_checkin" (rebuilt as in 0007).
"""

import importlib.util
from pathlib import Path

from alembic import op
import sqlalchemy as sa


def _load_sibling(name: str):
    """Another migration file as a module (migrations are files, not an importable package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The consent table's definition and its CHECK swap, from the migration that wrote them.
_web_pages = _load_sibling("0007_web_pages")
OLD_PURPOSES = _web_pages.NEW_PURPOSES
NEW_PURPOSES = (*OLD_PURPOSES, "connection_checkin")
ADDED_MEMBER_COLUMNS = ['follow_ups_snoozed_until', 'follow_ups_enabled',
                        'consent_connection_checkin_at', 'consent_connection_checkin']


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('connection_checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('lack_companionship', sa.Integer(), nullable=False),
    sa.Column('left_out', sa.Integer(), nullable=False),
    sa.Column('isolated', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_connection_checkins_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connection_checkins')),
    sa.UniqueConstraint('member_id', 'month', name='uq_connection_checkins_member_month')
    )
    with op.batch_alter_table('connection_checkins', schema=None) as batch_op:
        batch_op.create_index('ix_connection_checkins_month', ['month'], unique=False)

    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=60), nullable=False),
    sa.Column('introduction_id', sa.Integer(), nullable=True),
    sa.Column('listing_id', sa.Integer(), nullable=True),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('delivered_by', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reply', sa.String(length=16), nullable=True),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['introduction_id'], ['introductions.id'], name=op.f('fk_follow_ups_introduction_id_introductions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_follow_ups_listing_id_listings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_follow_ups_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups')),
    sa.UniqueConstraint('member_id', 'subject', 'step', name='uq_follow_ups_member_subject')
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_ups_introduction_id'), ['introduction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_ups_listing_id'), ['listing_id'], unique=False)

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_connection_checkin', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('consent_connection_checkin_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('follow_ups_enabled', sa.Boolean(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('follow_ups_snoozed_until', sa.DateTime(timezone=True), nullable=True))
    _web_pages._set_purposes(NEW_PURPOSES)



def downgrade() -> None:
    op.execute("DELETE FROM consent_records WHERE purpose = 'connection_checkin'")
    _web_pages._set_purposes(OLD_PURPOSES)
    if op.get_bind().dialect.name == "sqlite":
        # In place, as in 0007: a batch rebuild of members would cascade-delete its children.
        for column in ADDED_MEMBER_COLUMNS:
            op.execute(f"ALTER TABLE members DROP COLUMN {column}")
    else:
        for column in ADDED_MEMBER_COLUMNS:
            op.drop_column('members', column)

    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_ups_listing_id'))
        batch_op.drop_index(batch_op.f('ix_follow_ups_introduction_id'))

    op.drop_table('follow_ups')
    with op.batch_alter_table('connection_checkins', schema=None) as batch_op:
        batch_op.drop_index('ix_connection_checkins_month')

    op.drop_table('connection_checkins')
