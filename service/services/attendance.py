"""SessionAttendance: a member says "I went", or a partner checks a member in for a session.

Going back is the real measure of whether a match worked (DESIGN.md: regular contact, face to
face first). SessionAttendance is the matcher's strongest positive signal and moves a "start slowly"
member a step up (`GroupMatcher`'s STEP_CREDIT); the next fit reads it (`matcher_source`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from service.adapters.orm import SessionAttendance, Suggestion, utcnow
from service.domain.credentials import Principal, Role
from service.domain.errors import NotFound, RuleViolation
from service.domain.vocabulary import ListingStatus, SuggestionKind, SuggestionStatus
from service.services import members
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork

# A session can be recorded this long after it happened (a check-in list typed up late).
RECORDABLE_FOR = timedelta(days=60)
# Listings a member may have been to: live now, or live once (paused, closed since).
ONCE_LIVE = (ListingStatus.ACTIVE, ListingStatus.PAUSED, ListingStatus.CLOSED)


@dataclass(frozen=True)
class Recorded:
    attendance: SessionAttendance
    created: bool  # False: that member, listing and day were already recorded


def i_went(
    uow: UnitOfWork, caller: Principal, listing_id: int, session_on: date | None
) -> Recorded:
    """The calling member was at a session of the listing on `session_on` (today if None)."""
    with uow:
        member = members.own_member(uow, caller)
        listing = uow.listings.get(listing_id)
        if listing is None or listing.status not in ONCE_LIVE:
            raise NotFound("no such listing")
        recorded = _record(uow, member.id, listing, _checked_day(session_on), "member")
        uow.commit()
        return recorded


def check_in(
    uow: UnitOfWork, caller: Principal, listing_id: int, contact_id: int, session_on: date | None
) -> Recorded:
    """The partner saw a member at a session of its listing. The member is named by the
    contact they chose to share with the partner (their yes with `share_contact`), the only way
    a partner knows who a member is."""
    require_role(caller, Role.PARTNER)
    with uow:
        listing = uow.listings.get(listing_id)
        if listing is None or listing.organization_id != caller.subject_id:
            raise NotFound("no such listing")
        contact = uow.session.get(Suggestion, contact_id)
        shared = (
            contact is not None
            and contact.listing_id == listing_id
            and contact.kind is SuggestionKind.GROUP
            and contact.status is SuggestionStatus.YES
            and contact.contact_shared
        )
        if not shared:
            raise NotFound("no such contact for this listing")
        day = _checked_day(session_on)
        recorded = _record(uow, contact.member_id, listing, day, "partner")
        uow.commit()
        return recorded


def my_attendance(uow: UnitOfWork, caller: Principal) -> list[SessionAttendance]:
    require_role(caller, Role.MEMBER)
    with uow:
        return list(
            uow.session.scalars(
                sa.select(SessionAttendance)
                .where(SessionAttendance.member_id == caller.subject_id)
                .order_by(SessionAttendance.session_on.desc(), SessionAttendance.id.desc())
            )
        )


def _checked_day(session_on: date | None) -> date:
    today = utcnow().date()
    day = session_on or today
    # A day ahead is allowed: somewhere east of UTC it is already tomorrow.
    if day > today + timedelta(days=1):
        raise RuleViolation(
            "a session cannot be recorded before it happens",
            {"session_on": ["is in the future"]},
        )
    if day < today - RECORDABLE_FOR:
        raise RuleViolation(
            "that session is too long ago to record",
            {"session_on": [f"must be within the last {RECORDABLE_FOR.days} days"]},
        )
    return day


def _record(uow: UnitOfWork, member_id: int, listing, day: date, by: str) -> Recorded:
    """Once per member, listing and day, kept so by the unique constraint: two recordings at the
    same moment (the member and the partner) make one row, and the second finds it."""
    existing = _existing(uow, member_id, listing.id, day)
    if existing is not None:
        return Recorded(existing, created=False)
    attendance = SessionAttendance(
        member_id=member_id, listing=listing, session_on=day, recorded_by=by
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(attendance)
    except sa.exc.IntegrityError:  # recorded by the other side a moment ago
        return Recorded(_existing(uow, member_id, listing.id, day), created=False)
    members.mark_active(uow, member_id)
    return Recorded(attendance, created=True)


def _existing(uow: UnitOfWork, member_id: int, listing_id: int, day: date):
    return uow.session.scalar(
        sa.select(SessionAttendance).where(
            SessionAttendance.member_id == member_id,
            SessionAttendance.listing_id == listing_id,
            SessionAttendance.session_on == day,
        )
    )
