"""Rules of a listing's life: who may move it between statuses, and what a listing must say."""

from __future__ import annotations

from service.domain.errors import InvalidTransition, RuleViolation
from service.domain.places import check_coordinates
from service.domain.vocabulary import ListingStatus

S = ListingStatus

# What a partner may ask for, from each status. Approval is a coordinator's review, not listed here.
PARTNER_TRANSITIONS: dict[ListingStatus, set[ListingStatus]] = {
    S.DRAFT: {S.PENDING_REVIEW, S.CLOSED},
    S.PENDING_REVIEW: {S.DRAFT, S.CLOSED},
    S.ACTIVE: {S.PAUSED, S.CLOSED},
    S.PAUSED: {S.ACTIVE, S.CLOSED},
    S.CLOSED: set(),
}

# Every edit of what members read (text, tags, place, times, kind...) sends an unverified
# organization's live listing back to review; otherwise approval could be bypassed by editing
# after it. Only the head count is operational enough to change freely.
UNREVIEWED_FIELDS = frozenset({"capacity"})


def initial_status(requested: ListingStatus | None, organization_verified: bool) -> ListingStatus:
    """A new listing is a draft if asked, else live for verified partners, else awaits review."""
    if requested is S.DRAFT:
        return S.DRAFT
    if requested not in (None, S.PENDING_REVIEW, S.ACTIVE):
        raise RuleViolation(
            "a new listing can start as draft or be submitted",
            {"status": ["must be draft, pending_review or active"]},
        )
    return S.ACTIVE if organization_verified else S.PENDING_REVIEW


def partner_transition(
    current: ListingStatus, requested: ListingStatus, organization_verified: bool
) -> ListingStatus:
    """The status a partner's request leads to. Submitting is approval itself when verified."""
    if requested == current:
        return current
    if current is S.DRAFT and requested is S.ACTIVE:
        requested = S.PENDING_REVIEW
    if requested not in PARTNER_TRANSITIONS[current]:
        raise InvalidTransition(
            f"a listing cannot go from {current.value} to {requested.value}",
            {"status": [f"not allowed from {current.value}"]},
        )
    if requested is S.PENDING_REVIEW and organization_verified:
        return S.ACTIVE
    return requested


def status_after_edit(
    current: ListingStatus, changed_fields: set[str], organization_verified: bool
) -> ListingStatus:
    if current is S.CLOSED:
        raise InvalidTransition(
            "a closed listing cannot be edited", {"status": ["listing is closed"]}
        )
    live = current in (S.ACTIVE, S.PAUSED)
    if live and not organization_verified and changed_fields - UNREVIEWED_FIELDS:
        return S.PENDING_REVIEW
    return current


def review_outcome(current: ListingStatus, approve: bool) -> ListingStatus:
    if current is not S.PENDING_REVIEW:
        raise InvalidTransition(
            f"only listings pending review can be reviewed; this one is {current.value}",
            {"status": ["not pending review"]},
        )
    # A rejected listing returns to its partner as a draft, with the reason, to fix and resubmit.
    return S.ACTIVE if approve else S.DRAFT


def check_place(is_virtual: bool, lat: float | None, lon: float | None, area: str | None) -> None:
    """Face-to-face first: an in-person listing must say where, so distance can be computed."""
    check_coordinates(lat, lon)
    if is_virtual:
        return
    missing = {
        name: ["required for an in-person listing"]
        for name, value in (("lat", lat), ("lon", lon), ("area", area))
        if value in (None, "")
    }
    if missing:
        raise RuleViolation("an in-person listing needs a place", missing)
