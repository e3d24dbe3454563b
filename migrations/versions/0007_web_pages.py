"""web pages: coordinator-contact consent, calendar feed key

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:20:00

The consent_records.purpose CHECK constraint gains "coordinator_contact". SQLite cannot alter a
CHECK constraint, so batch mode copies the table from a full definition (copy_from) rather than
from reflection, which would not see CHECK constraints.
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# The dashboard counts by week and finds members who went quiet: range scans on these.
# Most are covering: the counts are answered from the index alone.
DASHBOARD_INDEXES = [
    ("ix_suggestions_created_at", "suggestions", ["created_at"]),
    ("ix_suggestions_status_answered_at", "suggestions", ["status", "answered_at"]),
    ("ix_suggestions_good_matches", "suggestions", ["kind", "created_at", "score", "member_id"]),
    ("ix_introductions_introduced_at", "introductions", ["introduced_at"]),
    ("ix_members_created_at", "members", ["created_at"]),
    ("ix_members_last_active_at", "members", ["last_active_at"]),
    ("ix_members_matching_good_match", "members", ["consent_matching", "last_good_match_at"]),
    ("ix_notifications_created_at", "notifications", ["created_at"]),
    ("ix_notification_deliveries_status_sent_at", "notification_deliveries", ["status", "sent_at"]),
]
OLD_PURPOSES = ("matching", "peer_introductions")
NEW_PURPOSES = (*OLD_PURPOSES, "coordinator_contact")


def consent_records(purposes) -> sa.Table:
    return sa.Table(
        "consent_records",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE",
                          name="fk_consent_records_member_id_members"),
            nullable=False,
        ),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "purpose IN (" + ", ".join(f"'{p}'" for p in purposes) + ")",
            name="ck_consent_records_consent_purpose",
        ),
        sa.Index("ix_consent_records_member_id", "member_id"),
    )


def _set_purposes(purposes) -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "consent_records", copy_from=consent_records(purposes), recreate="always"
        ):
            pass
        return
    op.drop_constraint(op.f("ck_consent_records_consent_purpose"), "consent_records", type_="check")
    op.create_check_constraint(
        op.f("ck_consent_records_consent_purpose"),
        "consent_records",
        "purpose IN (" + ", ".join(f"'{p}'" for p in purposes) + ")",
    )


def upgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_coordinator_contact', sa.Boolean(),
                                      server_default='0', nullable=False))
        batch_op.add_column(sa.Column('consent_coordinator_contact_at',
                                      sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('calendar_feed_key', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('last_good_match_at', sa.DateTime(timezone=True),
                                      nullable=True))
    _set_purposes(NEW_PURPOSES)
    # From the suggestions already made (0.5: the good-match score when this was written).
    # UPDATE ... FROM a grouped subquery (PostgreSQL, SQLite 3.33+): one pass over the
    # suggestions, where a correlated subquery per member let SQLite scan them for each member.
    op.execute(
        "UPDATE members SET last_good_match_at = good.latest FROM ("
        "SELECT member_id, max(created_at) AS latest FROM suggestions "
        "WHERE kind = 'group' AND score >= 0.5 GROUP BY member_id) AS good "
        "WHERE good.member_id = members.id"
    )
    for name, table, columns in DASHBOARD_INDEXES:
        op.create_index(op.f(name), table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in DASHBOARD_INDEXES:
        op.drop_index(op.f(name), table_name=table)
    op.execute("DELETE FROM consent_records WHERE purpose = 'coordinator_contact'")
    _set_purposes(OLD_PURPOSES)
    added = ['last_good_match_at', 'calendar_feed_key', 'consent_coordinator_contact_at',
             'consent_coordinator_contact']
    if op.get_bind().dialect.name == "sqlite":
        # Not batch mode: it rebuilds the table, and dropping the old members table with foreign
        # keys on deletes every row that refers to it (tags, suggestions...). SQLite 3.35+
        # drops a plain column in place.
        for column in added:
            op.execute(f"ALTER TABLE members DROP COLUMN {column}")
        return
    for column in added:
        op.drop_column('members', column)
