"""Telling a partner what happened to its listing: an email to its contact address, and a
`listing.reviewed` webhook for partners who registered one."""

from __future__ import annotations

import sqlalchemy as sa

from service.adapters.email import compose, sender_for
from service.adapters.orm import Listing, WebhookDelivery
from service.domain.vocabulary import ListingStatus
from service.services import outbox, webhooks


def on_listing_reviewed(kindred, event_id: int, listing_id: int) -> str:
    """Queue the webhooks (once), email the contact, then mark the event handled. A retry after
    a failed send finds the webhooks queued and only sends the email again."""
    with kindred.uow() as uow:
        listing = uow.listings.get(listing_id)
        if listing is None:
            outbox.mark_handled(uow, event_id)
            uow.commit()
            return "no such listing"
        approved = listing.status is ListingStatus.ACTIVE
        if not _webhooks_queued(uow, event_id):
            payload = {
                "type": "listing.reviewed",
                "data": {"listing_id": listing.id, "approved": approved},
            }
            webhooks.queue_for_organization(uow, listing.organization_id, payload, event_id)
        to, text = listing.organization.contact_email, _review_text(listing, approved)
        subject = f"kindred: “{listing.title}” was {'approved' if approved else 'not approved'}"
        uow.commit()
    settings = kindred.settings
    sender_for(settings).send(compose(settings.mail_from, to, f"review-{event_id}", subject, text))
    with kindred.uow() as uow:
        outbox.mark_handled(uow, event_id)
        uow.commit()
    return "approved" if approved else "rejected"


def _webhooks_queued(uow, event_id: int) -> bool:
    return (
        uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.message_id.like(f"msg_{event_id}_%"))
        )
        > 0
    )


def _review_text(listing: Listing, approved: bool) -> str:
    if approved:
        return (
            f"Good news: “{listing.title}” is live on kindred. Members it fits will hear about "
            "it over the coming days; you can see their interest on your partner page."
        )
    return (
        f"“{listing.title}” was not approved yet. The coordinator's note:\n\n"
        f"{listing.review_note or '(no note)'}\n\n"
        "It is back among your drafts: edit it on your partner page and submit it again."
    )
