"""What a partner learns about interest in its listing: counts, and only the contacts that
members chose to share with it when they said yes."""

from __future__ import annotations

import sqlalchemy as sa

from service.adapters.orm import Listing, Member, Suggestion
from service.domain.credentials import Principal, Role
from service.domain.errors import NotFound
from service.domain.vocabulary import SuggestionKind, SuggestionStatus
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork


def listing_interest(uow: UnitOfWork, caller: Principal, listing_id: int) -> dict:
    require_role(caller, Role.PARTNER, Role.COORDINATOR)
    with uow:
        listing = uow.listings.get(listing_id)
        owner = listing is not None and (
            caller.role is Role.PARTNER and listing.organization_id == caller.subject_id
        )
        if listing is None or not (owner or caller.role is Role.COORDINATOR):
            raise NotFound("no such listing")
        counts = dict(
            uow.session.execute(
                sa.select(Suggestion.status, sa.func.count())
                .where(Suggestion.listing_id == listing_id, Suggestion.kind == SuggestionKind.GROUP)
                .group_by(Suggestion.status)
            ).all()
        )
        interest = {status.value: counts.get(status, 0) for status in SuggestionStatus}
        interest["suggested"] = sum(counts.values())
        contacts = _shared_contacts(uow, listing_id) if owner else []
        return {"listing_id": listing_id, "interest": interest, "contacts": contacts}


def interest_by_listing(uow: UnitOfWork, caller: Principal, listing_ids: list[int]) -> dict:
    """The same counts for many of the partner's own listings, in one grouped query."""
    require_role(caller, Role.PARTNER)
    with uow:
        rows = uow.session.execute(
            sa.select(Suggestion.listing_id, Suggestion.status, sa.func.count())
            .join(Listing, Listing.id == Suggestion.listing_id)
            .where(
                Suggestion.listing_id.in_(listing_ids),
                Suggestion.kind == SuggestionKind.GROUP,
                Listing.organization_id == caller.subject_id,  # never another's listing
            )
            .group_by(Suggestion.listing_id, Suggestion.status)
        ).all()
    counts = {
        listing_id: {status.value: 0 for status in SuggestionStatus} for listing_id in listing_ids
    }
    for listing_id, status, count in rows:
        counts[listing_id][SuggestionStatus(status).value] = count
    for listing_counts in counts.values():
        listing_counts["suggested"] = sum(listing_counts.values())
    return counts


def _shared_contacts(uow: UnitOfWork, listing_id: int) -> list[dict]:
    rows = uow.session.execute(
        sa.select(Suggestion.id, Member.display_name, Member.email, Suggestion.answered_at)
        .join(Member, Member.id == Suggestion.member_id)
        .where(
            Suggestion.listing_id == listing_id,
            Suggestion.status == SuggestionStatus.YES,
            Suggestion.contact_shared.is_(True),
        )
        .order_by(Suggestion.answered_at)
    )
    return [
        {"contact_id": contact, "display_name": n, "email": e, "said_yes_at": at}
        for contact, n, e, at in rows
    ]
