"""What happens when an event is handled: one handler per kind, each idempotent.

A handler marks its event handled in the same transaction as its effects, so an event delivered
twice (a sweep after a lost job, a retry after a crash) finds itself handled and does nothing.
"""

from __future__ import annotations

from service.adapters.orm import OutboxEvent
from service.domain.events import EventKind
from service.services import (
    fanout,
    introductions,
    matching,
    notifications,
    outbox,
    partner_news,
    privacy,
    rhythm,
    sign_in_links,
    webhooks,
)

HANDLERS = {
    EventKind.MATCHES_REQUESTED: matching.answer_match_request,
    EventKind.MATCHES_READY: rhythm.on_matches_ready,
    EventKind.SUGGESTION_ANSWERED: introductions.on_suggestion_answered,
    EventKind.INTRODUCTION_ACCEPTED: introductions.on_introduction_accepted,
    EventKind.LISTING_PUBLISHED: fanout.on_listing_published,
    EventKind.LISTING_FAN_OUT: fanout.on_listing_fan_out,
    EventKind.MEMBER_ERASED: privacy.on_member_erased,
    EventKind.NOTIFICATION_CREATED: notifications.send_email,
    EventKind.WEBHOOK_DUE: webhooks.deliver,
    EventKind.LISTING_APPROVED: partner_news.on_listing_approved,
    EventKind.LISTING_REJECTED: partner_news.on_listing_rejected,
    EventKind.SIGN_IN_LINK_REQUESTED: sign_in_links.send_link,
}


def handle(kindred, event_id: int) -> str:
    with kindred.uow() as uow:
        event = uow.session.get(OutboxEvent, event_id)
        if event is None:
            return "no such event"
        if event.handled_at is not None:
            return "already handled"
        kind, subject_id = EventKind(event.kind), event.subject_id
        handler = HANDLERS.get(kind)
        if handler is None:  # nobody acts on this kind yet: recorded, and done with
            outbox.mark_handled(uow, event_id)
            uow.commit()
            return f"{kind.value}: no handler"
    return handler(kindred, event_id, subject_id)


def on_final_failure(kindred, event_id: int, error: str) -> None:
    """When retries are used up: the member's request, or the email, shows as failed."""
    with kindred.uow(publish=False) as uow:
        event = uow.session.get(OutboxEvent, event_id)
        if event is None:
            return
        kind, subject_id = event.kind, event.subject_id
    if kind == EventKind.MATCHES_REQUESTED.value:
        matching.fail_match_request(kindred, subject_id, error)
    elif kind == EventKind.NOTIFICATION_CREATED.value:
        notifications.delivery_failed(kindred, subject_id, error)
    elif kind == EventKind.WEBHOOK_DUE.value:
        webhooks.delivery_failed(kindred, subject_id, error)
