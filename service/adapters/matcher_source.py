"""The matcher's view of the database: listings, profiles and answers as the plain dicts the
matcher takes, and the fitted matchers cached in each worker process.

The cache refits when the catalogue, the members or their answers change (a cheap fingerprint
query decides). At the embedded scale a fit takes well under a second; a fitted model for
100,000 listings takes about 13 s, which is when a background refit and saved models pay off.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from service.adapters.orm import Listing, Member, MemberTag, Suggestion
from service.domain.vocabulary import ListingStatus, SuggestionKind, SuggestionStatus
from service.matching import GroupMatcher, PeerMatcher
from service.matching.incremental import MemberIndex
from service.observability import metrics

LISTING_FIELDS = (
    "id", "kind", "direction", "title", "description", "is_virtual", "lat", "lon", "area",
    "weekly_slots", "sessions", "group_size", "structure", "pace", "capacity", "status",
)  # fmt: skip
PROFILE_FIELDS = (
    "id", "interests_text", "lat", "lon", "travel_radius_km", "availability", "attendance",
    "comfort_group_size", "comfort_structure", "comfort_pace", "start_slowly",
)  # fmt: skip


def listing_record(listing: Listing) -> dict:
    record = {name: _plain(getattr(listing, name)) for name in LISTING_FIELDS}
    record.update(interests=listing.interests, causes=listing.causes)
    return record


def profile_record(member: Member) -> dict:
    record = {name: _plain(getattr(member, name)) for name in PROFILE_FIELDS}
    record.update(
        interests=member.interests,
        causes=member.causes,
        consents={
            "matching": member.consent_matching,
            "peer_introductions": member.consent_peer_introductions,
        },
    )
    return record


def consenting_profiles(session) -> list[dict]:
    """`profile_record` of every member who consented to matching, read as columns rather than
    as ORM objects: at 100,000 members that is seconds instead of most of a minute."""
    consenting = Member.consent_matching.is_(True)
    columns = [getattr(Member, name) for name in PROFILE_FIELDS]
    rows = session.execute(
        sa.select(*columns, Member.consent_peer_introductions).where(consenting).order_by(Member.id)
    )
    tags: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"interest": [], "cause": []})
    tag_rows = session.execute(
        sa.select(MemberTag.member_id, MemberTag.kind, MemberTag.tag)
        .join(Member, Member.id == MemberTag.member_id)
        .where(consenting)
        .order_by(MemberTag.member_id, MemberTag.kind, MemberTag.tag)
    )
    for member_id, kind, tag in tag_rows:
        tags[member_id][kind].append(tag)
    profiles = []
    for row in rows:
        record = {name: _plain(value) for name, value in zip(PROFILE_FIELDS, row, strict=False)}
        mine = tags.get(record["id"], {"interest": [], "cause": []})
        record.update(
            interests=mine["interest"],
            causes=mine["cause"],
            consents={"matching": True, "peer_introductions": row[-1]},
        )
        profiles.append(record)
    return profiles


def _plain(value):
    return value.value if hasattr(value, "value") else value


def answers(session) -> list[dict]:
    """Members' yes and no, as the matchers' interactions."""
    rows = session.execute(
        sa.select(Suggestion.member_id, Suggestion.kind, Suggestion.listing_id,
                  Suggestion.peer_id, Suggestion.status)
        .where(Suggestion.status.in_((SuggestionStatus.YES, SuggestionStatus.NO)))
    )  # fmt: skip
    events = []
    for member_id, kind, listing_id, peer_id, status in rows:
        yes = status is SuggestionStatus.YES
        if kind is SuggestionKind.GROUP:
            kind_name = "accepted" if yes else "declined"
            events.append({"member_id": member_id, "listing_id": listing_id, "kind": kind_name})
        elif not yes:
            events.append({"member_id": member_id, "peer_id": peer_id, "kind": "declined_peer"})
    return events


@dataclass
class FittedMatchers:
    group: GroupMatcher
    peer: PeerMatcher
    fingerprint: tuple
    # Every consenting member, indexed once per fit for the fan-out of new listings.
    members: MemberIndex | None


class MatcherCache:
    def __init__(self):
        self._fitted: FittedMatchers | None = None
        self._lock = threading.Lock()
        self.fits = 0  # how many times this process fitted (a worker's parent should, once)

    def get(self, session) -> FittedMatchers:
        fingerprint = self._fingerprint(session)
        with self._lock:
            if self._fitted is None or self._fitted.fingerprint != fingerprint:
                with metrics.MATCHER_FIT_SECONDS.time():
                    self._fitted = self._fit(session, fingerprint)
                self.fits += 1
            return self._fitted

    @staticmethod
    def _fingerprint(session) -> tuple:
        listings = session.execute(
            sa.select(sa.func.count(), sa.func.max(Listing.updated_at)).where(
                Listing.status == ListingStatus.ACTIVE
            )
        ).one()
        members = session.execute(sa.select(sa.func.count(), sa.func.max(Member.updated_at))).one()
        answered = session.execute(
            sa.select(sa.func.count(), sa.func.max(Suggestion.answered_at)).where(
                Suggestion.answered_at.is_not(None)
            )
        ).one()
        return (*listings, *members, *answered)

    @staticmethod
    def _fit(session, fingerprint: tuple) -> FittedMatchers:
        listings = session.scalars(
            sa.select(Listing).where(Listing.status == ListingStatus.ACTIVE).order_by(Listing.id)
        ).all()
        profiles = consenting_profiles(session)
        interactions = answers(session)
        group = GroupMatcher().fit([listing_record(x) for x in listings], interactions, profiles)
        peer = PeerMatcher().fit(profiles, interactions)
        members = group.index_members(profiles) if len(group.listing_ids_) and profiles else None
        return FittedMatchers(group, peer, fingerprint, members)
