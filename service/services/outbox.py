"""The transactional outbox: record events with the change, publish after commit, sweep the rest.

Delivery to RQ is at least once (a sweep re-publishes anything that looks lost), so every handler
is idempotent: it marks its event handled in the same transaction as its effects, and unique
constraints refuse a second suggestion or notification for the same thing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from service.adapters.orm import OutboxEvent, utcnow
from service.domain.events import EventKind
from service.observability.logs import current_request_id
from service.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

# A published event not handled after this long, whose job is gone from Redis, is re-published.
LOST_AFTER = timedelta(seconds=60)
# Unpublished events younger than this are left to the relay that is publishing them right now.
UNPUBLISHED_GRACE = timedelta(seconds=5)


def record(
    uow: UnitOfWork,
    kind: EventKind,
    subject: str,
    dedupe_key: str | None = None,
    available_at: datetime | None = None,
    region: str | None = None,
):
    """Add an event to the current transaction. With a dedupe key, a fact already recorded
    (by an earlier run of the same job) is returned instead of being recorded twice. An event
    `available_at` a later instant is left to the sweep, which publishes it once that is past.
    A matching event given a `region` goes to that region's queue whatever its subject."""
    if dedupe_key is not None:
        existing = uow.session.scalar(
            sa.select(OutboxEvent).where(OutboxEvent.dedupe_key == dedupe_key)
        )
        if existing is not None:
            return existing
    event = OutboxEvent(
        kind=kind.value,
        subject=subject,
        dedupe_key=dedupe_key,
        available_at=available_at,
        request_id=current_request_id(),  # the request's, or the job's that records it
        region=region,
    )
    uow.session.add(event)
    uow.new_events.append(event)
    return event


def mark_handled(uow: UnitOfWork, event_id: int) -> None:
    """In the handler's own transaction: its effects and this mark commit together."""
    uow.session.execute(
        sa.update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.handled_at.is_(None))
        .values(handled_at=utcnow())
    )


def mark_published(uow: UnitOfWork, event_ids: list[int]) -> None:
    with uow:
        uow.session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.id.in_(event_ids))
            .values(published_at=utcnow(), publish_attempts=OutboxEvent.publish_attempts + 1)
        )
        uow.commit()


def events_to_sweep(uow: UnitOfWork, limit: int = 500) -> tuple[list[int], list[int]]:
    """(never published, published but unhandled for a while): the sweep's two kinds of work.
    Never-published events include deferred ones whose time has come."""
    now = utcnow()
    with uow:
        unpublished = uow.session.scalars(
            sa.select(OutboxEvent.id)
            .where(
                OutboxEvent.handled_at.is_(None),
                OutboxEvent.published_at.is_(None),
                sa.or_(
                    sa.and_(
                        OutboxEvent.available_at.is_(None),
                        OutboxEvent.created_at < now - UNPUBLISHED_GRACE,
                    ),
                    OutboxEvent.available_at <= now,  # deferred, and now due
                ),
            )
            .order_by(OutboxEvent.id)
            .limit(limit)
        ).all()
        stale = uow.session.scalars(
            sa.select(OutboxEvent.id)
            .where(
                OutboxEvent.handled_at.is_(None),
                OutboxEvent.published_at < now - LOST_AFTER,
            )
            .order_by(OutboxEvent.id)
            .limit(limit)
        ).all()
    return list(unpublished), list(stale)
