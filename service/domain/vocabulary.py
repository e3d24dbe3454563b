"""The closed sets of words kindred uses for listings and profiles.

The same words appear in the API, the database and the matcher, so a value means one thing
everywhere.
"""

from __future__ import annotations

from enum import StrEnum


class ListingKind(StrEnum):
    CLUB = "club"
    INTEREST_GROUP = "interest_group"
    CLASS = "class"
    VOLUNTEER_ROLE = "volunteer_role"
    SUPPORT_GROUP = "support_group"


class Direction(StrEnum):
    """Reciprocity: a listing is a chance to give (volunteer) or to receive (class, support)."""

    GIVE = "give"
    RECEIVE = "receive"


class ListingStatus(StrEnum):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    ACTIVE = "active"
    PAUSED = "paused"
    CLOSED = "closed"


class GroupSize(StrEnum):
    """How many people usually come: small (2-8), medium (9-20), large (21+)."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class Structure(StrEnum):
    STRUCTURED = "structured"  # a shared activity carries the conversation
    MIXED = "mixed"
    OPEN_SOCIAL = "open_social"  # mingling is the activity


class Pace(StrEnum):
    LOW_KEY = "low_key"
    MODERATE = "moderate"
    HIGH_ENERGY = "high_energy"


class Attendance(StrEnum):
    """Where a member wants to meet: in person first, virtual only when asked for."""

    IN_PERSON = "in_person"
    VIRTUAL = "virtual"
    EITHER = "either"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class DayPart(StrEnum):
    MORNING = "morning"  # 06-12
    AFTERNOON = "afternoon"  # 12-17
    EVENING = "evening"  # 17-22


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"


class Consent(StrEnum):
    """Separate, explicit purposes a member agrees to. Nothing is assumed."""

    MATCHING = "matching"
    PEER_INTRODUCTIONS = "peer_introductions"
    # A coordinator may reach out if the member goes quiet (the dashboard lists only these).
    COORDINATOR_CONTACT = "coordinator_contact"
    # The monthly connection check-in (UCLA-3 loneliness scale): sensitive, so asked for alone.
    CONNECTION_CHECKIN = "connection_checkin"


ACCESSIBILITY_FEATURES = (
    "step_free",
    "accessible_toilet",
    "quiet_space",
    "hearing_loop",
    "sign_language",
    "seating",
    "large_print",
    "public_transport_nearby",
)


def values_of(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class MatchRequestStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SuggestionKind(StrEnum):
    GROUP = "group"  # a listing
    PEER = "peer"  # another member, introduced only if both say yes


class SuggestionStatus(StrEnum):
    OPEN = "open"
    YES = "yes"
    NO = "no"
    LATER = "later"
    EXPIRED = "expired"


class Answer(StrEnum):
    """What a member says to a suggestion."""

    YES = "yes"
    NO = "no"
    LATER = "later"


class IntroductionStatus(StrEnum):
    PENDING = "pending"  # one side said yes; the other has not answered
    INTRODUCED = "introduced"  # both said yes: each was told what the other shares
    CLOSED = "closed"  # someone said no; nobody is told who
