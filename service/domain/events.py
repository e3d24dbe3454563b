"""Events: past-tense facts that other parts of kindred must hear about.

Each is written to the outbox in the same transaction as the change it describes, then relayed
to an RQ queue. An event names its subject by id only: a job, a log line or a failed job kept in
Redis never carries a profile.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class EventKind(StrEnum):
    MATCHES_REQUESTED = "MatchesRequested"
    MATCHES_READY = "MatchesReady"
    SUGGESTION_ANSWERED = "SuggestionAnswered"
    INTRODUCTION_ACCEPTED = "IntroductionAccepted"
    PROFILE_UPDATED = "ProfileUpdated"
    LISTING_PUBLISHED = "ListingPublished"
    # With regions, a virtual listing's fan-out to one region's members (the event names it).
    LISTING_FAN_OUT = "ListingFanOut"
    # A member was erased: their region's model is refitted without them now, not at its next use.
    MEMBER_ERASED = "MemberErased"
    NOTIFICATION_CREATED = "NotificationCreated"  # to be delivered beyond the inbox (email)
    WEBHOOK_DUE = "WebhookDue"  # an event for a partner's endpoint
    # A coordinator's decision, told to the partner. The decision is in the kind, not read back
    # from the listing later (the partner may have paused or edited it in between).
    LISTING_APPROVED = "ListingApproved"
    LISTING_REJECTED = "ListingRejected"
    SIGN_IN_LINK_REQUESTED = "SignInLinkRequested"  # a member asked for an emailed sign-in link


# Which queue carries each kind: scoring work and people-facing messages never wait on each other.
MATCHING_EVENTS = {
    EventKind.MATCHES_REQUESTED,
    EventKind.PROFILE_UPDATED,
    EventKind.LISTING_PUBLISHED,
    EventKind.LISTING_FAN_OUT,
    EventKind.MEMBER_ERASED,
    EventKind.SUGGESTION_ANSWERED,
}


MATCHING_QUEUE = "matching"


def matching_queue(region: str | None = None) -> str:
    """`matching`, or `matching-<region>` when regions are configured (service/domain/regions)."""
    return f"{MATCHING_QUEUE}-{region}" if region else MATCHING_QUEUE


def queue_for(kind: str, region: str | None = None) -> str:
    """The queue for an event of `kind`; a matching event goes to its subject's region's queue
    when it has one. Notifications are not regional: they wait on nothing a region fits."""
    return matching_queue(region) if kind in MATCHING_EVENTS else "notifications"


def is_regional(kind: str) -> bool:
    return kind in MATCHING_EVENTS


def subject(noun: str, identifier: int) -> str:
    """ "member:7", "listing:3": what an event or a notification is about."""
    return f"{noun}:{identifier}"


def cycle_of(moment: datetime) -> str:
    """The ISO week, e.g. "2026-W48": one suggestion per member and target in each."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"
