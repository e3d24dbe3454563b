"""Listings: partners post and change their own; coordinators review; members read live ones."""

from __future__ import annotations

from dataclasses import dataclass

from service.adapters.orm import Listing, pop_tags, utcnow
from service.adapters.repositories import ListingFilter
from service.domain import listings as rules
from service.domain.credentials import Principal, Role
from service.domain.errors import Forbidden, NotFound
from service.domain.events import EventKind, subject
from service.domain.vocabulary import ListingStatus
from service.services import outbox
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork

ALL_STATUSES = tuple(ListingStatus)
# A listing's review is between its partner and the coordinators: the coordinator's note to the
# partner, and who moved the listing to its status.
REVIEW_FIELDS = frozenset({"review_note", "status_changed_by"})


class PublishedListing:
    """A listing as members read it: everything its partner published, not its review."""

    def __init__(self, listing: Listing):
        self._listing = listing

    def __getattr__(self, name: str):
        if name in REVIEW_FIELDS:
            raise AttributeError(f"members do not read a listing's {name}")
        return getattr(self._listing, name)


@dataclass(frozen=True)
class Page:
    items: list[Listing | PublishedListing]
    total: int


def create_listing(uow: UnitOfWork, caller: Principal, data: dict) -> Listing:
    require_role(caller, Role.PARTNER)
    data = dict(data)
    with uow:
        organization = uow.organizations.get(caller.subject_id)
        status = rules.initial_status(data.pop("status", None), organization.verified)
        listing = Listing(
            organization_id=organization.id,
            organization=organization,
            tags=Listing.tag_rows(pop_tags(data)),
            **data,
        )
        rules.check_place(listing.is_virtual, listing.lat, listing.lon, listing.area)
        _set_status(listing, status, caller)
        uow.listings.add(listing)
        _announce_if_live(uow, listing, None)
        uow.commit()
        return listing


def create_listing_once(uow: UnitOfWork, caller: Principal, data: dict) -> Listing | None:
    """Create a listing unless this organization already has one from the same source row."""
    with uow:
        if uow.listings.by_source_ref(caller.subject_id, data["source_ref"]):
            return None
    return create_listing(uow, caller, data)


def get_listing(uow: UnitOfWork, caller: Principal, listing_id: int) -> Listing | PublishedListing:
    with uow:
        return _as_seen_by(caller, _visible_listing(uow, caller, listing_id))


def search_listings(
    uow: UnitOfWork, caller: Principal, filters: ListingFilter, offset: int, limit: int
) -> Page:
    filters = _restrict_to_visible(caller, filters)
    with uow:
        items, total = uow.listings.search(filters, offset, limit)
        return Page(items=[_as_seen_by(caller, item) for item in items], total=total)


def update_listing(uow: UnitOfWork, caller: Principal, listing_id: int, changes: dict) -> Listing:
    require_role(caller, Role.PARTNER)
    changes = dict(changes)
    with uow:
        listing = _own_listing(uow, caller, listing_id)
        before = listing.status
        verified = listing.organization.verified
        requested_status = changes.pop("status", None)
        tags = pop_tags(changes)
        changed = {name for name, value in changes.items() if getattr(listing, name) != value}
        changed |= {
            name for name, values in tags.items() if getattr(listing, name) != sorted(values)
        }
        status = rules.status_after_edit(listing.status, changed, verified)
        for name, value in changes.items():
            setattr(listing, name, value)
        listing.set_tags(tags)
        rules.check_place(listing.is_virtual, listing.lat, listing.lon, listing.area)
        if requested_status is not None:
            status = rules.partner_transition(status, requested_status, verified)
        _set_status(listing, status, caller)
        _announce_if_live(uow, listing, before)
        uow.commit()
        return listing


def close_listing(uow: UnitOfWork, caller: Principal, listing_id: int) -> None:
    """Closing keeps the row: members' past suggestions and attendance still point at it."""
    require_role(caller, Role.PARTNER)
    with uow:
        listing = _own_listing(uow, caller, listing_id)
        _set_status(listing, ListingStatus.CLOSED, caller)
        uow.commit()


def review_listing(
    uow: UnitOfWork, caller: Principal, listing_id: int, approve: bool, reason: str | None
) -> Listing:
    require_role(caller, Role.COORDINATOR)
    with uow:
        listing = _visible_listing(uow, caller, listing_id)
        before = listing.status
        _set_status(listing, rules.review_outcome(listing.status, approve), caller)
        listing.review_note = reason
        _announce_if_live(uow, listing, before)
        decision = EventKind.LISTING_APPROVED if approve else EventKind.LISTING_REJECTED
        outbox.record(uow, decision, subject("listing", listing.id))
        uow.commit()
        return listing


def _set_status(listing: Listing, status: ListingStatus, caller: Principal) -> None:
    if listing.status == status:
        return
    listing.status = status
    listing.status_changed_by = caller.label
    listing.status_changed_at = utcnow()


def _announce_if_live(uow: UnitOfWork, listing: Listing, before: ListingStatus | None) -> None:
    """A listing that has just gone live is announced (the fan-out to members it fits)."""
    if listing.status is ListingStatus.ACTIVE and before is not ListingStatus.ACTIVE:
        uow.flush()  # a new listing gets its id
        outbox.record(uow, EventKind.LISTING_PUBLISHED, subject("listing", listing.id))


def _restrict_to_visible(caller: Principal, filters: ListingFilter) -> ListingFilter:
    """Partners see only their own listings; members only live ones; coordinators all."""
    from dataclasses import replace

    if caller.role is Role.PARTNER:
        return replace(filters, organization_id=caller.subject_id)
    if caller.role is Role.MEMBER:
        if filters.statuses and set(filters.statuses) != {ListingStatus.ACTIVE}:
            raise Forbidden("members can list active listings only")
        return replace(filters, statuses=(ListingStatus.ACTIVE,))
    return filters


def _as_seen_by(caller: Principal, listing: Listing) -> Listing | PublishedListing:
    return PublishedListing(listing) if caller.role is Role.MEMBER else listing


def _visible_listing(uow: UnitOfWork, caller: Principal, listing_id: int) -> Listing:
    listing = uow.listings.get(listing_id)
    visible = listing is not None and (
        caller.role is Role.COORDINATOR
        or (caller.role is Role.PARTNER and listing.organization_id == caller.subject_id)
        or (caller.role is Role.MEMBER and listing.status is ListingStatus.ACTIVE)
    )
    if not visible:
        raise NotFound("no such listing")
    return listing


def _own_listing(uow: UnitOfWork, caller: Principal, listing_id: int) -> Listing:
    listing = uow.listings.get(listing_id)
    if listing is None or listing.organization_id != caller.subject_id:
        raise NotFound("no such listing")
    return listing
