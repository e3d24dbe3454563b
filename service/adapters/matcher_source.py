"""The matcher's view of the database: listings, profiles and answers as the plain dicts the
matcher takes, and the fitted matchers each worker process holds, one per region.

The cache refits when the catalogue, the members or their answers change (a cheap fingerprint
query decides). At the embedded scale a fit takes well under a second; at 100,000 members it
takes 12-18 s, so workers share their fits through a ModelStore (service/adapters/model_store):
one fits, the others load.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from service.adapters.model_store import ModelStore
from service.adapters.orm import Listing, Member, MemberTag, SessionAttendance, Suggestion
from service.adapters.region_lookup import in_region
from service.domain.regions import Regions
from service.domain.vocabulary import ListingStatus, SuggestionKind, SuggestionStatus
from service.matching import GroupMatcher, PeerMatcher
from service.matching.incremental import MemberIndex
from service.observability import metrics

# A worker with no model yet, while another fits the one it needs, looks for it this often.
WAIT_FOR_FIT_SECONDS = 0.25

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


def consenting_profiles(session, where=None) -> list[dict]:
    """`profile_record` of every member who consented to matching (and meets `where`, a
    condition on Member: a region), read as columns rather than as ORM objects: at 100,000
    members that is seconds instead of most of a minute."""
    consenting = sa.and_(
        Member.consent_matching.is_(True), where if where is not None else sa.true()
    )
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


def answers(session, where=None) -> list[dict]:
    """Members' yes and no (of the members meeting `where`), as the matchers' interactions."""
    rows = session.execute(
        sa.select(Suggestion.member_id, Suggestion.kind, Suggestion.listing_id,
                  Suggestion.peer_id, Suggestion.status)
        .join(Member, Member.id == Suggestion.member_id)
        .where(
            Suggestion.status.in_((SuggestionStatus.YES, SuggestionStatus.NO)),
            where if where is not None else sa.true(),
        )
    )  # fmt: skip
    events = []
    for member_id, kind, listing_id, peer_id, status in rows:
        yes = status is SuggestionStatus.YES
        if kind is SuggestionKind.GROUP:
            kind_name = "accepted" if yes else "declined"
            events.append({"member_id": member_id, "listing_id": listing_id, "kind": kind_name})
        elif not yes:
            events.append({"member_id": member_id, "peer_id": peer_id, "kind": "declined_peer"})
    return events + attended(session, where)


def attended(session, where=None) -> list[dict]:
    """Each session a member went to (of the members meeting `where`): the strongest positive
    signal, and a step up for a "start slowly" member."""
    rows = session.execute(
        sa.select(SessionAttendance.member_id, SessionAttendance.listing_id)
        .join(Member, Member.id == SessionAttendance.member_id)
        .where(where if where is not None else sa.true())
        .order_by(SessionAttendance.id)
    )
    return [
        {"member_id": member_id, "listing_id": listing_id, "kind": "attended"}
        for member_id, listing_id in rows
    ]


@dataclass
class FittedMatchers:
    group: GroupMatcher
    peer: PeerMatcher
    fingerprint: tuple
    # Every consenting member, indexed once per fit for the fan-out of new listings.
    members: MemberIndex | None


@dataclass(frozen=True)
class Scope:
    """The rows a model is fitted on: everything, or one region's members and the listings they
    can reach (the region's in-person ones and every virtual one)."""

    regions: Regions | None = None
    region: str | None = None

    def members(self):
        if self.region is None:
            return sa.true()
        return in_region(self.regions, self.region, Member.lat, Member.lon)

    def listings(self):
        if self.region is None:
            return sa.true()
        in_person_here = in_region(self.regions, self.region, Listing.lat, Listing.lon)
        return sa.or_(Listing.is_virtual.is_(True), in_person_here)

    def key(self) -> tuple:
        # With the boxes: the same region name drawn elsewhere is another model.
        return () if self.region is None else (self.region, repr(self.regions))


class MatcherCache:
    """This process's fitted matchers, one model per region (or one in all without regions).

    A model is refitted when the fingerprint of what it was fitted on changed: the count and
    latest change of the scope's active listings, members and answers. With a ModelStore, a
    changed fingerprint is first looked for in the store (another worker fitted it), and only
    one worker at a time fits a region; the others answer from the model they hold until the
    new one is saved. Answers are checked against the database when stored (consent, erasure,
    listings closed), so a model a few seconds old never offers what it must not.
    """

    def __init__(self, store: ModelStore | None = None, regions: Regions | None = None):
        self._store = store
        self._regions = regions
        self._fitted: dict[str | None, FittedMatchers] = {}
        self._lock = threading.Lock()
        self.fits = 0  # how many times this process fitted (a worker's parent should, once)
        self.loads = 0  # how many times it loaded a model another process fitted

    def region_of(self, lat, lon) -> str | None:
        """The region whose model serves a place; None when there are no regions."""
        return None if self._regions is None else self._regions.of(lat, lon)

    def known(self, region: str | None) -> str | None:
        """`region` if it is configured now, else where its subjects went: an event recorded
        before the regions changed may name one that is gone (or regions were turned off)."""
        if self._regions is None:
            return None
        return region if region in self._regions.names else self._regions.default

    def get(self, session, region: str | None = None, stale_ok: bool = True) -> FittedMatchers:
        """The region's model (the one model without regions) for the data as it is now. While
        another worker fits it: the newest model saved, or the one this process holds; with
        `stale_ok` False, wait for the fit instead."""
        scope = Scope(self._regions, region) if region is not None else Scope()
        fingerprint = self._fingerprint(session, scope)
        with self._lock:
            held = self._fitted.get(region)
            if held is not None and held.fingerprint == fingerprint:
                return held
            fitted = self._fresh(session, scope, fingerprint, held, stale_ok)
            self._fitted[region] = fitted
            return fitted

    def refit_after_erasure(self, session, region: str | None) -> int:
        """Refit `region`'s model for the data as it is now (without the erased member), then
        delete every other model file: any of them, of any region, may hold the member. Returns
        how many files were deleted."""
        fitted = self.get(session, region, stale_ok=False)
        if self._store is None:
            return 0
        return self._store.remove_all_except({self._store.path(region, fitted.fingerprint)})

    def _fresh(self, session, scope: Scope, fingerprint: tuple, held, stale_ok) -> FittedMatchers:
        """The model for `fingerprint`: loaded if saved, fitted if this process wins the
        region's lock; else (another worker is fitting) a newer saved model or the one held."""
        if self._store is None:
            return self._fit(session, scope, fingerprint)
        while True:
            saved = self._load(scope, fingerprint)
            if saved is not None:
                return saved
            lock = self._store.fitting_lock(scope.region)
            if lock is not None:
                with lock:  # saved by the holder before us meanwhile: load rather than refit
                    saved = self._load(scope, fingerprint)
                    if saved is not None:
                        return saved
                    fitted = self._fit(session, scope, fingerprint)
                    if lock.still_held():
                        self._store.save(scope.region, fingerprint, fitted)
                    return fitted
            if stale_ok:
                newer = self._newer_saved(scope.region, held)
                if newer is not None or held is not None:
                    return newer or held
            time.sleep(WAIT_FOR_FIT_SECONDS)

    def _load(self, scope: Scope, fingerprint: tuple) -> FittedMatchers | None:
        return self._counted(self._store.load(scope.region, fingerprint))

    def _newer_saved(self, region: str | None, held) -> FittedMatchers | None:
        """The region's last saved model if this process does not hold it already: under
        steady changes the exact fingerprint is rarely saved, but the last fit is fresher."""
        latest = self._store.latest(region)
        if latest is None:
            return None
        if held is not None and latest == self._store.path(region, held.fingerprint):
            return None
        return self._counted(self._store.load_file(latest))

    def _counted(self, loaded: FittedMatchers | None) -> FittedMatchers | None:
        if loaded is not None:
            self.loads += 1
            metrics.MATCHER_LOADS.inc()
        return loaded

    def _fit(self, session, scope: Scope, fingerprint: tuple) -> FittedMatchers:
        with metrics.MATCHER_FIT_SECONDS.time():
            fitted = _fit(session, scope, fingerprint)
        self.fits += 1
        return fitted

    @staticmethod
    def _fingerprint(session, scope: Scope) -> tuple:
        listings = session.execute(
            sa.select(sa.func.count(), sa.func.max(Listing.updated_at)).where(
                Listing.status == ListingStatus.ACTIVE, scope.listings()
            )
        ).one()
        members = session.execute(
            sa.select(sa.func.count(), sa.func.max(Member.updated_at)).where(scope.members())
        ).one()
        answered = session.execute(
            sa.select(sa.func.count(), sa.func.max(Suggestion.answered_at))
            .join(Member, Member.id == Suggestion.member_id)
            .where(Suggestion.answered_at.is_not(None), scope.members())
        ).one()
        went = session.execute(
            sa.select(sa.func.count(), sa.func.max(SessionAttendance.id))
            .join(Member, Member.id == SessionAttendance.member_id)
            .where(scope.members())
        ).one()
        return (*scope.key(), *listings, *members, *answered, *went)


def _fit(session, scope: Scope, fingerprint: tuple) -> FittedMatchers:
    listings = session.scalars(
        sa.select(Listing)
        .where(Listing.status == ListingStatus.ACTIVE, scope.listings())
        .order_by(Listing.id)
    ).all()
    profiles = consenting_profiles(session, scope.members())
    interactions = answers(session, scope.members())
    group = GroupMatcher().fit([listing_record(x) for x in listings], interactions, profiles)
    peer = PeerMatcher().fit(profiles, interactions)
    members = group.index_members(profiles) if len(group.listing_ids_) and profiles else None
    return FittedMatchers(group, peer, fingerprint, members)
