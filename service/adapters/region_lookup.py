"""Which region each matching event belongs to: its subject's coordinates, read for a batch.

An outbox event names its subject by id only ("listing:3", "match_request:5", "suggestion:8",
"member:7"). The coordinates are the listing's (none if it is virtual) or the member's (the one
who asked, or answered). Two queries per batch whatever its size: the events' subjects, then one
UNION ALL of a primary-key lookup per kind of subject.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

from service.adapters.orm import Listing, MatchRequest, Member, OutboxEvent, Suggestion
from service.domain.events import is_regional
from service.domain.regions import Regions


def regions_of(session, regions: Regions, kinds: dict[int, str]) -> dict[int, str]:
    """{event id: region} for the matching events among `kinds` ({event id: kind})."""
    wanted = [event_id for event_id, kind in kinds.items() if is_regional(kind)]
    if not wanted:
        return {}
    subjects = dict(
        session.execute(
            sa.select(OutboxEvent.id, OutboxEvent.subject).where(OutboxEvent.id.in_(wanted))
        ).all()
    )
    ids: dict[str, set[int]] = defaultdict(set)
    for subject in subjects.values():
        noun, _, identifier = subject.rpartition(":")
        if identifier.isdigit():
            ids[noun].add(int(identifier))
    places = _coordinates(session, ids)
    found = {}
    for event_id, subject in subjects.items():
        noun, _, identifier = subject.rpartition(":")
        lat, lon = places.get(
            (noun, int(identifier)) if identifier.isdigit() else None, (None, None)
        )
        found[event_id] = regions.of(lat, lon)
    return found


def _coordinates(session, ids: dict[str, set[int]]) -> dict[tuple[str, int], tuple]:
    """{(noun, id): (lat, lon)}, in one round trip; a virtual listing has no place."""
    parts = []
    if ids.get("listing"):
        no_place = sa.case((Listing.is_virtual, None), else_=Listing.lat)
        parts.append(
            sa.select(sa.literal("listing"), Listing.id, no_place, Listing.lon).where(
                Listing.id.in_(ids["listing"])
            )
        )
    if ids.get("member"):
        parts.append(
            sa.select(sa.literal("member"), Member.id, Member.lat, Member.lon).where(
                Member.id.in_(ids["member"])
            )
        )
    for noun, table in (("match_request", MatchRequest), ("suggestion", Suggestion)):
        if ids.get(noun):
            parts.append(
                sa.select(sa.literal(noun), table.id, Member.lat, Member.lon)
                .join(Member, Member.id == table.member_id)
                .where(table.id.in_(ids[noun]))
            )
    if not parts:
        return {}
    query = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    return {(noun, key): (lat, lon) for noun, key, lat, lon in session.execute(query)}


def in_region(regions: Regions, name: str, lat, lon):
    """A SQL condition on (lat, lon) columns: the rows `regions.of` puts in region `name` (the
    first box holding a point wins; no coordinates or no box: the default region). The next
    step's filter for a regional MatcherCache (docs/scaling.md); it uses the (lat, lon) index."""

    def inside(region):
        longitude = (
            lon.between(region.west, region.east)
            if region.west <= region.east
            else sa.or_(lon >= region.west, lon <= region.east)
        )
        return sa.and_(lat.between(region.south, region.north), longitude)

    earlier = []
    for region in regions.regions:
        if region.name == name:
            return sa.and_(inside(region), *(sa.not_(e) for e in earlier))
        earlier.append(inside(region))
    if name != regions.default:
        raise ValueError(f"no region named {name!r}")
    return sa.or_(lat.is_(None), lon.is_(None), sa.not_(sa.or_(*earlier)))
