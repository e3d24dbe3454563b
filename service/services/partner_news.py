"""Telling a partner what happened to its listing: an email to its contact address, and a
`listing.reviewed` webhook for partners who registered one."""

from __future__ import annotations

import sqlalchemy as sa

from service.adapters.email import compose, sender_for
from service.adapters.orm import Listing, WebhookDelivery, WebhookEndpoint
from service.services import outbox, webhooks


def on_listing_approved(kindred, event_id: int, listing_id: int) -> str:
    return _tell_partner(kindred, event_id, listing_id, approved=True)


def on_listing_rejected(kindred, event_id: int, listing_id: int) -> str:
    return _tell_partner(kindred, event_id, listing_id, approved=False)


def _tell_partner(kindred, event_id: int, listing_id: int, approved: bool) -> str:
    """Queue the webhooks (once), email the contact, then mark the event handled. A retry after
    a failed send finds the webhooks queued and only sends the email again."""
    with kindred.uow() as uow:
        listing = uow.listings.get(listing_id)
        if listing is None:
            outbox.mark_handled(uow, event_id)
            uow.commit()
            return "no such listing"
        if not _webhooks_queued(uow, event_id, listing.organization_id):
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


def _webhooks_queued(uow, event_id: int, organization_id: int) -> bool:
    """Whether an earlier run of this event queued its deliveries (message ids are exactly
    msg_<event>_<endpoint>; a LIKE pattern would also match msg_<event>0_...)."""
    endpoint_ids = uow.session.scalars(
        sa.select(WebhookEndpoint.id).where(WebhookEndpoint.organization_id == organization_id)
    ).all()
    wanted = [f"msg_{event_id}_{endpoint_id}" for endpoint_id in endpoint_ids]
    found = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.message_id.in_(wanted))
    )
    return bool(wanted) and found > 0


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
