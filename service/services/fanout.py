"""The fan-out of a new listing: scored against the members it could fit, without re-matching
anyone, and offered only to those it fits well who have room in their notification budget."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from service.adapters.matcher_source import listing_record, profile_record
from service.adapters.orm import Member, OutboxEvent, Suggestion, utcnow
from service.domain.events import EventKind, cycle_of, subject
from service.domain.vocabulary import ListingStatus, SuggestionKind
from service.matching.incremental import new_listing_reasons
from service.services import members, notifications, outbox
from service.services.unit_of_work import UnitOfWork

# Good enough to interrupt someone's week for; below it the listing waits for their next match.
THRESHOLD = members.GOOD_MATCH_SCORE
# However many it fits, one listing tells at most this many members at once.
MAX_MEMBERS = 200
# Members looked up per query while offering (well under SQLite's limit on bound values).
LOOKUP_BATCH = 500


def on_listing_published(kindred, event_id: int, listing_id: int) -> str:
    with kindred.uow() as uow:
        listing = uow.listings.get(listing_id)
        live = listing is not None and listing.status is ListingStatus.ACTIVE
        regions = kindred.settings.regions
        if live and regions is not None and listing.is_virtual:
            return _fan_out_to_every_region(uow, event_id, listing_id, regions.names)
        region = kindred.matchers.region_of(listing.lat, listing.lon) if live else None
    return _fan_out(kindred, event_id, listing_id, region)


def on_listing_fan_out(kindred, event_id: int, listing_id: int) -> str:
    """One region's share of a virtual listing's fan-out, with that region's model. Each region's
    share tells up to MAX_MEMBERS of its members: the cap is per region."""
    with kindred.uow() as uow:
        region = kindred.matchers.known(uow.session.get(OutboxEvent, event_id).region)
    return _fan_out(kindred, event_id, listing_id, region)


def _fan_out_to_every_region(uow: UnitOfWork, event_id: int, listing_id: int, names) -> str:
    """A virtual listing fits members anywhere, and each region's members are in its own model:
    one event per region, recorded with this one's handling, so none is lost or doubled."""
    for name in names:
        outbox.record(
            uow,
            EventKind.LISTING_FAN_OUT,
            subject("listing", listing_id),
            dedupe_key=f"ListingFanOut:{event_id}:{name}",
            region=name,
        )
    outbox.mark_handled(uow, event_id)
    uow.commit()
    return f"fanned out to {len(names)} regions"


def _fan_out(kindred, event_id: int, listing_id: int, region: str | None) -> str:
    with kindred.uow() as uow:
        listing = uow.listings.get(listing_id)
        if listing is None or listing.status is not ListingStatus.ACTIVE:
            outbox.mark_handled(uow, event_id)
            uow.commit()
            return "not live"
        record = listing_record(listing)
        # Current as of this moment (the cache refits when members or listings change), with
        # every consenting member of the region already indexed: scoring them all is one sparse
        # product.
        fitted = kindred.matchers.get(uow.session, region)
    chosen = _best_fits(fitted, record)
    with kindred.uow() as uow:
        told = _offer(uow, fitted.group, record, chosen)
        outbox.mark_handled(uow, event_id)
        uow.commit()
    scored = 0 if fitted.members is None else len(fitted.members.member_ids)
    where = f" in {region}" if region else ""
    return f"{told} of {scored} members{where} told"


def _best_fits(fitted, record: dict) -> list[tuple[int, float]]:
    """(member id, score) at or above the threshold, best first. The matcher's eligibility
    rules (distance and radius, virtual or in person, free times) already give 0 to members
    who could not go."""
    if fitted.members is None:
        return []
    scores = fitted.group.score_new_listing(record, fitted.members)
    above = np.flatnonzero(scores >= THRESHOLD)
    best_first = above[np.argsort(-scores[above], kind="stable")]
    return [(int(fitted.members.member_ids[i]), float(scores[i])) for i in best_first]


def _offer(uow: UnitOfWork, matcher, record: dict, chosen: list[tuple[int, float]]) -> int:
    target, cycle, told = f"listing:{record['id']}", cycle_of(utcnow()), 0
    told_ids: list[int] = []
    already = set(
        uow.session.scalars(sa.select(Suggestion.member_id).where(Suggestion.target == target))
    )
    for start in range(0, len(chosen), LOOKUP_BATCH):  # two queries per batch, not per member
        if told >= MAX_MEMBERS:
            break
        batch = chosen[start : start + LOOKUP_BATCH]
        found = uow.session.scalars(
            sa.select(Member).where(
                Member.id.in_([member_id for member_id, _ in batch]),
                Member.consent_matching.is_(True),  # withdrawn since the fit: not offered
            )
        )
        consenting = {member.id: member for member in found}
        room = notifications.room_for_nudges(uow, list(consenting.values()), utcnow())
        for member_id, score in batch:
            if told >= MAX_MEMBERS:
                break
            member = consenting.get(member_id)
            if member is None or member.id in already or room[member.id] < 1:
                continue
            _suggest(uow, matcher, record, profile_record(member), score, target, cycle)
            told_ids.append(member_id)
            told += 1
    members.mark_good_match(uow, told_ids)  # every one scored above THRESHOLD
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
