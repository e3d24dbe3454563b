"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('coordinators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('display_name', sa.String(length=60), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coordinators')),
    sa.UniqueConstraint('email', name=op.f('uq_coordinators_email')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_coordinators_token_hash'))
    )
    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('display_name', sa.String(length=60), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('interests_text', sa.Text(), nullable=False),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('area', sa.String(length=80), nullable=True),
    sa.Column('travel_radius_km', sa.Double(), nullable=False),
    sa.Column('availability', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('attendance', sa.Enum('in_person', 'virtual', 'either', name='attendance', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('languages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('comfort_group_size', sa.Enum('small', 'medium', 'large', name='comfort_group_size', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('comfort_structure', sa.Enum('structured', 'mixed', 'open_social', name='comfort_structure', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('comfort_pace', sa.Enum('low_key', 'moderate', 'high_energy', name='comfort_pace', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('start_slowly', sa.Boolean(), nullable=False),
    sa.Column('notify_channels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('digest_day', sa.Enum('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', name='weekday', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('quiet_hours_start', sa.String(length=5), nullable=False),
    sa.Column('quiet_hours_end', sa.String(length=5), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('max_notifications_per_week', sa.Integer(), nullable=False),
    sa.Column('consent_matching', sa.Boolean(), nullable=False),
    sa.Column('consent_matching_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consent_peer_introductions', sa.Boolean(), nullable=False),
    sa.Column('consent_peer_introductions_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_active_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('email', name=op.f('uq_members_email')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_members_token_hash'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index('ix_members_lat_lon', ['lat', 'lon'], unique=False)

    op.create_table('organizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('website', sa.String(length=300), nullable=True),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organizations')),
    sa.UniqueConstraint('name', name=op.f('uq_organizations_name'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=True),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_api_keys_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_api_keys_secret_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_organization_id'), ['organization_id'], unique=False)

    op.create_table('consent_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Enum('matching', 'peer_introductions', name='consent_purpose', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_consent_records_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records'))
    )
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_records_member_id'), ['member_id'], unique=False)

    op.create_table('listings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('club', 'interest_group', 'class', 'volunteer_role', 'support_group', name='listing_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('direction', sa.Enum('give', 'receive', name='direction', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('is_virtual', sa.Boolean(), nullable=False),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('area', sa.String(length=80), nullable=True),
    sa.Column('weekly_slots', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sessions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('group_size', sa.Enum('small', 'medium', 'large', name='group_size', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('structure', sa.Enum('structured', 'mixed', 'open_social', name='structure', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('pace', sa.Enum('low_key', 'moderate', 'high_energy', name='pace', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('accessibility', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('languages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.Enum('draft', 'pending_review', 'active', 'paused', 'closed', name='listing_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status_changed_by', sa.String(length=40), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('review_note', sa.String(length=500), nullable=True),
    sa.Column('source_ref', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_listings_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listings')),
    sa.UniqueConstraint('organization_id', 'source_ref', name='uq_listings_source_ref')
    )
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.create_index('ix_listings_lat_lon', ['lat', 'lon'], unique=False)
        batch_op.create_index(batch_op.f('ix_listings_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('ix_listings_status_kind', ['status', 'kind'], unique=False)

    op.create_table('member_tags',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('tag', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_tags_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', 'kind', 'tag', name=op.f('pk_member_tags'))
    )
    with op.batch_alter_table('member_tags', schema=None) as batch_op:
        batch_op.create_index('ix_member_tags_kind_tag', ['kind', 'tag'], unique=False)

    op.create_table('listing_tags',
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('tag', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_listing_tags_listing_id_listings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('listing_id', 'kind', 'tag', name=op.f('pk_listing_tags'))
    )
    with op.batch_alter_table('listing_tags', schema=None) as batch_op:
        batch_op.create_index('ix_listing_tags_kind_tag', ['kind', 'tag'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('listing_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_listing_tags_kind_tag')

    op.drop_table('listing_tags')
    with op.batch_alter_table('member_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_member_tags_kind_tag')

    op.drop_table('member_tags')
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index('ix_listings_status_kind')
        batch_op.drop_index(batch_op.f('ix_listings_organization_id'))
        batch_op.drop_index('ix_listings_lat_lon')

    op.drop_table('listings')
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_records_member_id'))

    op.drop_table('consent_records')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_organization_id'))

    op.drop_table('api_keys')
    op.drop_table('organizations')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('ix_members_lat_lon')

    op.drop_table('members')
    op.drop_table('coordinators')
