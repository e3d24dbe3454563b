"""Members: open sign-up, their own profile, consents, export and erasure."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from redis import exceptions as redis_errors
from sqlalchemy.exc import IntegrityError

from service.adapters.orm import ConsentRecord, Member, pop_tags, utcnow
from service.domain.credentials import Principal, Role, issue_secret
from service.domain.errors import Conflict, NotFound, Unavailable
from service.domain.events import EventKind, subject
from service.domain.places import check_coordinates
from service.domain.regions import Regions
from service.domain.vocabulary import Consent
from service.services import introductions, outbox, privacy
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork

# A group suggestion this good is a good match: the fan-out tells members about a new listing
# only above it, and the dashboard counts members who had none lately.
GOOD_MATCH_SCORE = 0.5
# Quiet time after the last change before a profile is matched again.
REMATCH_AFTER = timedelta(seconds=60)
# Changes to these fields change what fits the member; the rest (name, rhythm) do not.
MATCHING_FIELDS = {
    "interests", "causes", "interests_text", "lat", "lon", "travel_radius_km", "availability",
    "attendance", "languages", "comfort_group_size", "comfort_structure", "comfort_pace",
    "start_slowly",
}  # fmt: skip

CONSENT_COLUMNS = {
    Consent.MATCHING: ("consent_matching", "consent_matching_at"),
    Consent.PEER_INTRODUCTIONS: ("consent_peer_introductions", "consent_peer_introductions_at"),
    Consent.COORDINATOR_CONTACT: (
        "consent_coordinator_contact",
        "consent_coordinator_contact_at",
    ),
    Consent.CONNECTION_CHECKIN: ("consent_connection_checkin", "consent_connection_checkin_at"),
}


@dataclass(frozen=True)
class SignedUp:
    member: Member
    token: str


def sign_up(uow: UnitOfWork, data: dict) -> SignedUp:
    data = dict(data)
    consents = data.pop("consents", {})
    tags = pop_tags(data)
    check_coordinates(data.get("lat"), data.get("lon"))
    secret = issue_secret(Role.MEMBER)
    with uow:
        if uow.members.by_email(data["email"]):
            raise Conflict("this email already has an account", {"email": ["already registered"]})
        member = Member(token_hash=secret.hash, tags=Member.tag_rows(tags), **data)
        # Consent is never assumed: only what the member ticked is recorded as given.
        _record_consents(member, {Consent(k): v for k, v in consents.items()})
        _rematch_soon(member)  # a newcomer who consented hears from us without asking
        uow.members.add(member)
        _commit_unique_email(uow)
        return SignedUp(member=member, token=secret.plaintext)


def get_me(uow: UnitOfWork, caller: Principal) -> Member:
    with uow:
        return own_member(uow, caller)


def update_me(uow: UnitOfWork, caller: Principal, changes: dict) -> Member:
    changes = dict(changes)
    tags = pop_tags(changes)
    with uow:
        member = own_member(uow, caller)
        changed = {name for name, value in changes.items() if getattr(member, name) != value}
        changed |= {name for name, tag in tags.items() if getattr(member, name) != sorted(tag)}
        for name, value in changes.items():
            setattr(member, name, value)
        check_coordinates(member.lat, member.lon)
        member.set_tags(tags)
        if changed:
            member.last_active_at = utcnow()  # flushed with the changes, at the commit below
        else:
            mark_active(uow, member.id)  # saving with no change: activity, not a change
        if changed & MATCHING_FIELDS:
            _rematch_soon(member)
        _commit_unique_email(uow)
        return member


def set_consents(uow: UnitOfWork, caller: Principal, consents: dict[str, bool]) -> Member:
    with uow:
        member = own_member(uow, caller)
        had_matching = member.consent_matching
        had_peers = had_matching and member.consent_peer_introductions
        had_checkin = member.consent_connection_checkin
        granted = _record_consents(member, {Consent(k): v for k, v in consents.items()})
        if granted:  # a new consent opens new matches
            _rematch_soon(member)
        # A withdrawal takes effect in this transaction, not at the next re-match.
        if had_matching and not member.consent_matching:
            privacy.withdraw_from_matching(uow, member.id)
        elif had_peers and not member.consent_peer_introductions:
            privacy.withdraw_from_peers(uow, member.id)
        if had_checkin and not member.consent_connection_checkin:
            privacy.withdraw_from_checkins(uow, member.id)
        uow.commit()
        return member


def erase_me(uow: UnitOfWork, caller: Principal, redis, regions: Regions | None = None) -> None:
    """Erase the member: their row and its cascade, the traces outside it, and Redis's; the
    fitted model of their region is refitted without them right after (`MemberErased`).

    Redis goes first: if the commit then fails, the outbox sweep re-publishes the member's
    events. Without Redis nothing is erased (503), rather than leaving jobs behind."""
    with uow:
        member = own_member(uow, caller)
        region = regions.of(member.lat, member.lon) if regions else None
        traces = privacy.traces_of(uow, member.id)
        try:
            privacy.forget_in_redis(redis, member.id, traces)
        except redis_errors.RedisError as error:
            raise Unavailable(
                "erasure needs the queue, which is down: try again in a minute", retry_after=60
            ) from error
        privacy.delete_traces(uow, traces)
        uow.members.delete(member)
        # An id and a region name only; handled, it goes with the other handled events.
        outbox.record(uow, EventKind.MEMBER_ERASED, subject("member", member.id), region=region)
        uow.commit()
    # A job published between the two steps names an event that is gone: remove it too.
    with contextlib.suppress(redis_errors.RedisError):
        privacy.forget_in_redis(redis, member.id, traces)


def export_me(uow: UnitOfWork, caller: Principal) -> dict:
    """Everything kindred holds about the member, in one document (what erasure removes)."""
    with uow:
        member = own_member(uow, caller)
        mine = privacy.held_about(uow, member.id)
        return {
            "exported_at": utcnow(),
            "profile": member,
            "consent_history": list(member.consent_records),
            **mine,
            "introductions": introductions.introductions_of(uow, member.id),
        }


def mark_active(uow: UnitOfWork, member_id: int) -> None:
    """Record that the member did something (asked, answered, signed in), in the caller's
    transaction. Not a profile change: updated_at, which makes the matcher refit, is kept."""
    uow.session.execute(
        sa.update(Member)
        .where(Member.id == member_id)
        .values(last_active_at=utcnow(), updated_at=Member.updated_at)
    )


def mark_good_match(uow: UnitOfWork, member_ids: list[int]) -> None:
    """These members were just suggested a group scoring at least GOOD_MATCH_SCORE (in the
    caller's transaction). Like activity, not a profile change: updated_at is kept."""
    if member_ids:
        uow.session.execute(
            sa.update(Member)
            .where(Member.id.in_(member_ids))
            .values(last_good_match_at=utcnow(), updated_at=Member.updated_at)
        )


def own_member(uow: UnitOfWork, caller: Principal) -> Member:
    """The calling member's row, inside the caller's unit of work."""
    require_role(caller, Role.MEMBER)
    member = uow.members.get(caller.subject_id)
    if member is None:  # erased while the token was still in a client
        raise NotFound("no such member")
    return member


def _rematch_soon(member: Member) -> None:
    if member.consent_matching:
        member.rematch_due_at = utcnow() + REMATCH_AFTER


def _record_consents(member: Member, consents: dict[Consent, bool]) -> bool:
    """Change the current consent and append to the history, only where something changed.
    True when a consent was newly granted."""
    now = utcnow()
    newly_granted = False
    for purpose, granted in consents.items():
        flag, changed_at = CONSENT_COLUMNS[purpose]
        if getattr(member, flag) == granted and getattr(member, changed_at) is not None:
            continue
        newly_granted |= granted and not getattr(member, flag)
        setattr(member, flag, granted)
        setattr(member, changed_at, now)
        member.consent_records.append(
            ConsentRecord(purpose=purpose, granted=granted, recorded_at=now)
        )
    return newly_granted


def _commit_unique_email(uow: UnitOfWork) -> None:
    try:
        uow.commit()
    except IntegrityError as error:
        uow.session.rollback()
        raise Conflict(
            "this email already has an account", {"email": ["already registered"]}
        ) from error
