"""The fan-out of a new listing: scored against the members it could fit, without re-matching
anyone, and offered only to those it fits well who have room in their notification budget."""

from __future__ import annotations

import sqlalchemy as sa

from service.adapters.matcher_source import listing_record, profile_record
from service.adapters.orm import Member, Suggestion, utcnow
from service.domain.events import cycle_of, subject
from service.domain.vocabulary import Attendance, ListingStatus, SuggestionKind
from service.matching.incremental import new_listing_reasons
from service.services import notifications, outbox
from service.services.unit_of_work import UnitOfWork

# Good enough to interrupt someone's week for; below it the listing waits for their next match.
THRESHOLD = 0.5
# However many it fits, one listing tells at most this many members at once.
MAX_MEMBERS = 200
# Members looked up per query while offering (well under SQLite's limit on bound values).
LOOKUP_BATCH = 500
# Members farther than this cannot reach an in-person listing whatever their radius (the API
# caps travel_radius_km at 100).
FARTHEST_KM = 100.0


def on_listing_published(kindred, event_id: int, listing_id: int) -> str:
    with kindred.uow() as uow:
        listing = uow.listings.get(listing_id)
        if listing is None or listing.status is not ListingStatus.ACTIVE:
            outbox.mark_handled(uow, event_id)
            uow.commit()
            return "not live"
        record = listing_record(listing)
        profiles = [profile_record(m) for m in _who_could_go(uow, listing)]
        matcher = kindred.matchers.get(uow.session).group
    chosen = _best_fits(matcher, record, profiles)
    with kindred.uow() as uow:
        told = _offer(uow, matcher, record, chosen)
        outbox.mark_handled(uow, event_id)
        uow.commit()
    return f"{told} of {len(profiles)} members told"


def _who_could_go(uow: UnitOfWork, listing) -> list[Member]:
    """Members who consented to matching and could attend: a cheap box before the exact test."""
    query = sa.select(Member).where(Member.consent_matching.is_(True))
    if listing.is_virtual:
        query = query.where(Member.attendance != Attendance.IN_PERSON)
    elif listing.lat is not None:
        degrees = FARTHEST_KM / 111.0
        near = sa.and_(
            Member.lat.between(listing.lat - degrees, listing.lat + degrees),
            Member.lon.between(listing.lon - 2 * degrees, listing.lon + 2 * degrees),
        )
        query = query.where(
            Member.attendance != Attendance.VIRTUAL, sa.or_(near, Member.lat.is_(None))
        )
    return uow.session.scalars(query.order_by(Member.id)).all()


def _best_fits(matcher, record: dict, profiles: list[dict]) -> list[tuple[dict, float]]:
    if not profiles:
        return []
    scores = matcher.score_new_listing(record, matcher.index_members(profiles))
    ranked = sorted(
        ((p, float(s)) for p, s in zip(profiles, scores, strict=True) if s >= THRESHOLD),
        key=lambda pair: -pair[1],
    )
    return ranked


def _offer(uow: UnitOfWork, matcher, record: dict, chosen) -> int:
    target, cycle, told = f"listing:{record['id']}", cycle_of(utcnow()), 0
    already = set(
        uow.session.scalars(sa.select(Suggestion.member_id).where(Suggestion.target == target))
    )
    for start in range(0, len(chosen), LOOKUP_BATCH):  # two queries per batch, not per member
        batch = chosen[start : start + LOOKUP_BATCH]
        ids = [profile["id"] for profile, _ in batch]
        found = uow.session.scalars(sa.select(Member).where(Member.id.in_(ids)))
        members = {member.id: member for member in found}
        room = notifications.room_for_nudges(uow, list(members.values()), utcnow())
        for profile, score in batch:
            if told >= MAX_MEMBERS:
                return told
            member = members[profile["id"]]
            if member.id in already or room[member.id] < 1:
                continue
            _suggest(uow, matcher, record, profile, score, target, cycle)
            told += 1
    return told


def _suggest(uow: UnitOfWork, matcher, record: dict, profile: dict, score, target, cycle):
    reasons = new_listing_reasons(matcher, record, profile)
    uow.session.add(
        Suggestion(
            member_id=profile["id"],
            kind=SuggestionKind.GROUP,
            target=target,
            listing_id=record["id"],
            cycle=cycle,
            score=round(score, 4),
            reasons=reasons,
        )
    )
    notifications.notify(
        uow,
        profile["id"],
        "new_listing",
        subject("listing", record["id"]),
        cycle,
        title=f"New near you: {record['title']}",
        body="It " + "; ".join(reasons[:3]) + ".",
        link="/api/v1/members/me/suggestions",
    )
