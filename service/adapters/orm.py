"""The database schema as SQLAlchemy 2 typed ORM classes.

Interest and cause tags live in their own tables (not JSON lists) so that filters ("listings about
gardening") and coordinator aggregates ("interests nobody offers") are plain indexed SQL on
PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from service.domain.vocabulary import (
    Attendance,
    Consent,
    Direction,
    GroupSize,
    IntroductionStatus,
    ListingKind,
    ListingStatus,
    MatchRequestStatus,
    Pace,
    Structure,
    SuggestionKind,
    SuggestionStatus,
    Weekday,
)

# Indexes and constraints get predictable names, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def enum_column(enum: type[StrEnum], name: str) -> sa.Enum:
    """A VARCHAR with a CHECK constraint: portable, and adding a value is a small migration."""
    return sa.Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict: Json, list: Json}


class Tagged:
    """Interests and causes, kept as tag rows (ListingTag, MemberTag) and read as sorted lists."""

    TAG_KINDS = {"interests": "interest", "causes": "cause"}

    @property
    def interests(self) -> list[str]:
        return self._tags_of("interest")

    @property
    def causes(self) -> list[str]:
        return self._tags_of("cause")

    def _tags_of(self, kind: str) -> list[str]:
        return sorted(tag.tag for tag in self.tags if tag.kind == kind)

    @classmethod
    def tag_rows(cls, tags_by_field: dict[str, list[str]]) -> list:
        """Rows for a new owner, from {"interests": [...], "causes": [...]}."""
        tag_class = cls.__mapper__.relationships["tags"].mapper.class_
        return [
            tag_class(kind=cls.TAG_KINDS[field], tag=tag)
            for field, tags in tags_by_field.items()
            for tag in tags
        ]

    def set_tags(self, tags_by_field: dict[str, list[str]]) -> None:
        """Replace the kinds of tag given, keeping unchanged rows and the other kind."""
        for field, values in tags_by_field.items():
            kind = self.TAG_KINDS[field]
            wanted = set(values)
            self.tags[:] = [t for t in self.tags if t.kind != kind or t.tag in wanted]
            present = {t.tag for t in self.tags if t.kind == kind}
            self.tags.extend(self.tag_rows({field: sorted(wanted - present)}))


def pop_tags(data: dict) -> dict[str, list[str]]:
    """Take the tag fields out of a payload, leaving the columns."""
    return {field: data.pop(field) for field in Tagged.TAG_KINDS if field in data}


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    website: Mapped[str | None] = mapped_column(sa.String(300))
    verified: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    api_keys: Mapped[list[ApiKey]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", passive_deletes=True
    )


class ApiKey(Base):
    """A partner's credential. Only a SHA-256 of the 256-bit secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str | None] = mapped_column(sa.String(80))
    # The first characters of the key, so a partner can tell keys apart without the secret.
    prefix: Mapped[str] = mapped_column(sa.String(12))
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship(back_populates="api_keys")


class Listing(Tagged, Base):
    __tablename__ = "listings"
    __table_args__ = (
        sa.Index("ix_listings_status_kind", "status", "kind"),
        sa.Index("ix_listings_lat_lon", "lat", "lon"),
        # An importer's id for the row it came from: re-importing a file adds nothing twice.
        sa.UniqueConstraint("organization_id", "source_ref", name="uq_listings_source_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ListingKind] = mapped_column(enum_column(ListingKind, "listing_kind"))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction, "direction"))
    title: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text)
    is_virtual: Mapped[bool] = mapped_column(default=False)
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    area: Mapped[str | None] = mapped_column(sa.String(80))
    # [{"day": "sat", "start": "10:00", "minutes": 90}, ...]
    weekly_slots: Mapped[list] = mapped_column(default=list)
    # [{"starts_at": "2026-12-05T10:00:00+00:00", "minutes": 120}, ...]
    sessions: Mapped[list] = mapped_column(default=list)
    # The IANA zone its weekly slots are in ("sat 10:00" means 10:00 where the group meets).
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC", server_default="UTC")
    group_size: Mapped[GroupSize] = mapped_column(enum_column(GroupSize, "group_size"))
    structure: Mapped[Structure] = mapped_column(enum_column(Structure, "structure"))
    pace: Mapped[Pace] = mapped_column(enum_column(Pace, "pace"))
    accessibility: Mapped[list] = mapped_column(default=list)
    capacity: Mapped[int | None]
    languages: Mapped[list] = mapped_column(default=list)
    status: Mapped[ListingStatus] = mapped_column(enum_column(ListingStatus, "listing_status"))
    # Who moved the listing to its status and when: "organization:3" or "coordinator:1".
    status_changed_by: Mapped[str] = mapped_column(sa.String(40))
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    review_note: Mapped[str | None] = mapped_column(sa.String(500))
    source_ref: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship(lazy="joined")
    tags: Mapped[list[ListingTag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    @property
    def organization_name(self) -> str:
        return self.organization.name


class ListingTag(Base):
    __tablename__ = "listing_tags"
    __table_args__ = (sa.Index("ix_listing_tags_kind_tag", "kind", "tag"),)

    listing_id: Mapped[int] = mapped_column(
        sa.ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(10), primary_key=True)  # interest | cause
    tag: Mapped[str] = mapped_column(sa.String(40), primary_key=True)


class Member(Tagged, Base):
    __tablename__ = "members"
    __table_args__ = (
        sa.Index("ix_members_lat_lon", "lat", "lon"),
        # "Still without a good match" on the dashboard: one index range, not a scan of
        # every suggestion.
        sa.Index("ix_members_matching_good_match", "consent_matching", "last_good_match_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(60))
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    interests_text: Mapped[str] = mapped_column(sa.Text, default="")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    area: Mapped[str | None] = mapped_column(sa.String(80))
    travel_radius_km: Mapped[float] = mapped_column(default=5.0)
    # ["sat_morning", "wed_evening", ...]: weekday and part of day.
    availability: Mapped[list] = mapped_column(default=list)
    attendance: Mapped[Attendance] = mapped_column(
        enum_column(Attendance, "attendance"), default=Attendance.IN_PERSON
    )
    languages: Mapped[list] = mapped_column(default=list)
    # Comfort: private to the member and the matcher, never shown to anyone else.
    comfort_group_size: Mapped[GroupSize] = mapped_column(
        enum_column(GroupSize, "comfort_group_size"), default=GroupSize.SMALL
    )
    comfort_structure: Mapped[Structure] = mapped_column(
        enum_column(Structure, "comfort_structure"), default=Structure.STRUCTURED
    )
    comfort_pace: Mapped[Pace] = mapped_column(
        enum_column(Pace, "comfort_pace"), default=Pace.LOW_KEY
    )
    start_slowly: Mapped[bool] = mapped_column(default=False)
    # Notification rhythm.
    notify_channels: Mapped[list] = mapped_column(default=lambda: ["in_app"])
    digest_day: Mapped[Weekday] = mapped_column(
        enum_column(Weekday, "weekday"), default=Weekday.SUN
    )
    quiet_hours_start: Mapped[str] = mapped_column(sa.String(5), default="21:00")
    quiet_hours_end: Mapped[str] = mapped_column(sa.String(5), default="08:00")
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    max_notifications_per_week: Mapped[int] = mapped_column(default=3)
    # What a peer sees once both said yes: the display name always, the email only if allowed.
    share_email_on_introduction: Mapped[bool] = mapped_column(default=False)
    # Set by a profile or consent change, pushed back by each further change: one re-match
    # once the member has stopped editing, not one per keystroke.
    rematch_due_at: Mapped[datetime | None]
    # Current consents; consent_records keeps the history of every change.
    consent_matching: Mapped[bool] = mapped_column(default=False)
    consent_matching_at: Mapped[datetime | None]
    consent_peer_introductions: Mapped[bool] = mapped_column(default=False)
    consent_peer_introductions_at: Mapped[datetime | None]
    consent_coordinator_contact: Mapped[bool] = mapped_column(default=False, server_default="0")
    consent_coordinator_contact_at: Mapped[datetime | None]
    # The monthly connection check-in (UCLA-3): its own consent, never implied by the others.
    consent_connection_checkin: Mapped[bool] = mapped_column(default=False, server_default="0")
    consent_connection_checkin_at: Mapped[datetime | None]
    # Keep-in-touch follow-ups after an introduction or a first session: on unless turned off;
    # a snooze holds them back until the date.
    follow_ups_enabled: Mapped[bool] = mapped_column(default=True, server_default="1")
    follow_ups_snoozed_until: Mapped[datetime | None]
    # Part of the private calendar feed's signed URL: bumping it makes the old URL stop working.
    calendar_feed_key: Mapped[int] = mapped_column(default=0, server_default="0")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Asking for matches, answering, editing, signing in: the dashboard's "went quiet" list.
    last_active_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # When a group suggestion scoring at least GOOD_MATCH_SCORE was last made for the member,
    # kept by the matching and fan-out jobs.
    last_good_match_at: Mapped[datetime | None]

    tags: Mapped[list[MemberTag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )
    consent_records: Mapped[list[ConsentRecord]] = relationship(
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ConsentRecord.id",
    )

    @property
    def consents(self) -> dict:
        return {
            Consent.MATCHING.value: {
                "granted": self.consent_matching,
                "changed_at": self.consent_matching_at,
            },
            Consent.PEER_INTRODUCTIONS.value: {
                "granted": self.consent_peer_introductions,
                "changed_at": self.consent_peer_introductions_at,
            },
            Consent.COORDINATOR_CONTACT.value: {
                "granted": self.consent_coordinator_contact,
                "changed_at": self.consent_coordinator_contact_at,
            },
            Consent.CONNECTION_CHECKIN.value: {
                "granted": self.consent_connection_checkin,
                "changed_at": self.consent_connection_checkin_at,
            },
        }


class MemberTag(Base):
    __tablename__ = "member_tags"
    __table_args__ = (sa.Index("ix_member_tags_kind_tag", "kind", "tag"),)

    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    tag: Mapped[str] = mapped_column(sa.String(40), primary_key=True)


class ConsentRecord(Base):
    """Append-only: every time a consent is given or withdrawn, and what it became."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[Consent] = mapped_column(enum_column(Consent, "consent_purpose"))
    granted: Mapped[bool]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Coordinator(Base):
    __tablename__ = "coordinators"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(60))
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEvent(Base):
    """An event written in the same transaction as the change it describes (the outbox).

    `published_at`: handed to RQ; `handled_at`: its effects are committed. The sweep re-publishes
    events that were never published, or published but lost before they were handled.
    """

    __tablename__ = "outbox_events"
    # AUTOINCREMENT on SQLite: an id (and so a job id, `event-<id>`) is never given twice, even
    # after the newest events were deleted (an erasure). PostgreSQL never reuses them anyway.
    __table_args__ = (
        sa.Index("ix_outbox_events_pending", "handled_at", "published_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    # "match_request:5": ids only. Indexed: erasure finds a member's events by subject.
    subject: Mapped[str] = mapped_column(sa.String(60), index=True)
    # The same fact recorded twice (a job re-run) is one event: "MatchesReady:match_request:5".
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    # Not to be published before this (an email waiting out the member's quiet hours): the sweep
    # publishes it once due, so the wait survives any restart.
    available_at: Mapped[datetime | None]
    publish_attempts: Mapped[int] = mapped_column(default=0)
    handled_at: Mapped[datetime | None]
    # The X-Request-ID of the request (or of the job) that caused it: handed to its job, so the
    # worker's log lines carry it (service.observability.logs). A token, never personal data.
    request_id: Mapped[str | None] = mapped_column(sa.String(36))
    # The region whose queue and model handle it, when its producer chose one (a virtual
    # listing's fan-out to each region); None: routed by its subject's place, or not regional.
    region: Mapped[str | None] = mapped_column(sa.String(40))

    @property
    def subject_id(self) -> int:
        return int(self.subject.rsplit(":", 1)[1])


class MatchRequest(Base):
    """A member asked for matches; the matching worker answers it."""

    __tablename__ = "match_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[MatchRequestStatus] = mapped_column(
        enum_column(MatchRequestStatus, "match_request_status"), default=MatchRequestStatus.QUEUED
    )
    reason: Mapped[str] = mapped_column(sa.String(20), default="asked")  # asked | profile | weekly
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    group_count: Mapped[int] = mapped_column(default=0)
    peer_count: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.String(200))  # never personal data


class Suggestion(Base):
    """One listing or one peer suggested to one member, with the matcher's reasons."""

    __tablename__ = "suggestions"
    __table_args__ = (
        # One suggestion per member, target and cycle: a re-run job cannot add a second.
        sa.UniqueConstraint("member_id", "target", "cycle", name="uq_suggestions_member_target"),
        sa.Index("ix_suggestions_member_status", "member_id", "status"),
        # The dashboard's counts read these indexes alone (covering), never the rows.
        sa.Index("ix_suggestions_status_answered_at", "status", "answered_at"),
        sa.Index("ix_suggestions_good_matches", "kind", "created_at", "score", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[SuggestionKind] = mapped_column(enum_column(SuggestionKind, "suggestion_kind"))
    target: Mapped[str] = mapped_column(sa.String(30))  # "listing:5" or "member:7"
    listing_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    peer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    cycle: Mapped[str] = mapped_column(sa.String(10))  # ISO week, "2026-W48"
    score: Mapped[float]
    reasons: Mapped[list] = mapped_column(default=list)
    match_request_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("match_requests.id", ondelete="SET NULL")
    )
    status: Mapped[SuggestionStatus] = mapped_column(
        enum_column(SuggestionStatus, "suggestion_status"), default=SuggestionStatus.OPEN
    )
    # Indexed for the dashboard's weekly counts.
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    answered_at: Mapped[datetime | None]
    # Given with a yes to a listing: the organization may see this member's name and email.
    contact_shared: Mapped[bool] = mapped_column(default=False)

    listing: Mapped[Listing | None] = relationship(lazy="joined")
    peer: Mapped[Member | None] = relationship(foreign_keys=[peer_id], lazy="joined")


class Introduction(Base):
    """Two members suggested to each other; introduced only when both say yes."""

    __tablename__ = "introductions"
    __table_args__ = (
        sa.UniqueConstraint("member_low_id", "member_high_id", name="uq_introductions_pair"),
        sa.CheckConstraint("member_low_id < member_high_id", name="ordered_pair"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_low_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    member_high_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[IntroductionStatus] = mapped_column(
        enum_column(IntroductionStatus, "introduction_status"), default=IntroductionStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    introduced_at: Mapped[datetime | None] = mapped_column(index=True)


class Notification(Base):
    """A message to one member: their in-app inbox, and what other channels deliver."""

    __tablename__ = "notifications"
    __table_args__ = (
        # One notification per recipient, kind, subject and cycle: a job delivered twice adds none.
        sa.UniqueConstraint(
            "member_id", "kind", "subject", "cycle", name="uq_notifications_member_kind"
        ),
        sa.Index("ix_notifications_member_created", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(60))
    cycle: Mapped[str] = mapped_column(sa.String(10))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    read_at: Mapped[datetime | None]
    # After this it is pointless (a reminder for a session that has begun): not emailed late.
    expires_at: Mapped[datetime | None]


class WeeklyRound(Base):
    """A member's weekly re-match and digest, one per member and local ISO week.

    The scheduler keeps no state of its own: this row is how a restarted scheduler knows a
    member's week is already done, and how a week missed while it was down is caught up.
    """

    __tablename__ = "weekly_rounds"
    __table_args__ = (
        sa.UniqueConstraint("member_id", "cycle", name="uq_weekly_rounds_member_cycle"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"))
    cycle: Mapped[str] = mapped_column(sa.String(10))  # the member's local ISO week
    match_request_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("match_requests.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    # pending (matching) | sent | empty (nothing worth a message) | no_budget (budget of 0)
    digest: Mapped[str] = mapped_column(sa.String(10), default="pending")


class SessionAttendance(Base):
    """A member was at a session of a listing: they said "I went", or its partner checked them
    in. One row per member, listing and day, whoever said it first. The matcher's strongest
    positive signal; each one moves a "start slowly" member a step up."""

    __tablename__ = "attendances"
    __table_args__ = (
        sa.UniqueConstraint(
            "member_id", "listing_id", "session_on", name="uq_attendances_member_listing_day"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"))
    listing_id: Mapped[int] = mapped_column(
        sa.ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    session_on: Mapped[date]
    recorded_by: Mapped[str] = mapped_column(sa.String(10))  # member | partner
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    listing: Mapped[Listing] = relationship(lazy="joined")


class FollowUp(Base):
    """A keep-in-touch follow-up that went out: one per member, subject and step (step 1 a week
    after an introduction or a first session, step 2 three weeks after), whether it came as its
    own notification or as the small step of a digest. The member's reply is kept: "kept in
    touch" is what the outcomes count as a second contact, "not for me" ends that subject's
    follow-ups (no nagging)."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        sa.UniqueConstraint("member_id", "subject", "step", name="uq_follow_ups_member_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(sa.String(60))  # "introduction:5" | "listing:3"
    # The subject as a key too, so that erasing a peer or removing a listing removes its rows.
    introduction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("introductions.id", ondelete="CASCADE"), index=True
    )
    listing_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int]  # 1 | 2
    due_on: Mapped[date]  # the member's local day it was due
    delivered_by: Mapped[str] = mapped_column(sa.String(12))  # notification | digest
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reply: Mapped[str | None] = mapped_column(sa.String(16))  # kept_in_touch | not_for_me
    replied_at: Mapped[datetime | None]


class ConnectionCheckIn(Base):
    """One month's answers to the three-item UCLA Loneliness Scale (Hughes et al. 2004), given
    with their own consent. Each item 1 (hardly ever) to 3 (often); the score is their sum,
    3 to 9. Seen by the member alone; coordinators get aggregates over groups of ten or more."""

    __tablename__ = "connection_checkins"
    __table_args__ = (
        sa.UniqueConstraint("member_id", "month", name="uq_connection_checkins_member_month"),
        sa.Index("ix_connection_checkins_month", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(sa.String(7))  # "2026-11", the member's local month
    lack_companionship: Mapped[int]
    left_out: Mapped[int]
    isolated: Mapped[int]
    score: Mapped[int]
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationDelivery(Base):
    """One notification through one channel beyond the inbox (email): pending, sent or failed."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        sa.UniqueConstraint(
            "notification_id", "channel", name="uq_notification_deliveries_channel"
        ),
        sa.Index("ix_notification_deliveries_status_sent_at", "status", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        sa.ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(
        sa.String(10), default="pending"
    )  # pending|sent|failed|expired
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    sent_at: Mapped[datetime | None]


class WebhookEndpoint(Base):
    """A partner's URL for events about its listings. The secret signs every delivery, so it is
    kept (unlike API keys, which are only verified) and shown to the partner once."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(sa.String(500))
    secret: Mapped[str] = mapped_column(sa.String(80))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(200))


class WebhookDelivery(Base):
    """One event for one endpoint; `message_id` is the Standard Webhooks `webhook-id`, the same
    on every retry so the partner can drop duplicates."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str] = mapped_column(sa.String(60), unique=True)
    payload: Mapped[dict] = mapped_column()  # ids and counts, never a member's details
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class JobFailure(Base):
    """A job that failed for good (retries used up): what coordinators see and can retry."""

    __tablename__ = "job_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(sa.String(80), index=True)
    queue: Mapped[str] = mapped_column(sa.String(40))
    function: Mapped[str] = mapped_column(sa.String(120))
    error: Mapped[str] = mapped_column(sa.String(500))  # the exception type and message
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    retried_at: Mapped[datetime | None]


__all__ = [
    "ApiKey",
    "Base",
    "ConnectionCheckIn",
    "ConsentRecord",
    "Coordinator",
    "FollowUp",
    "Introduction",
    "JobFailure",
    "Listing",
    "ListingTag",
    "MatchRequest",
    "Member",
    "MemberTag",
    "Notification",
    "NotificationDelivery",
    "Organization",
    "OutboxEvent",
    "SessionAttendance",
    "Suggestion",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WeeklyRound",
]
