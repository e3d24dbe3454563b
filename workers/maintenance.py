"""Maintenance jobs run by the scheduler: the outbox sweep and the job registry cleanup."""

from __future__ import annotations

import logging

from rq.registry import clean_registries

from service.services import matching, outbox
from workers import context
from workers.queues import ALL_QUEUES, queue

log = logging.getLogger(__name__)


def clean_job_registries() -> int:
    """Move jobs of dead workers out of the started registry, so they are retried or failed.

    RQ notices a killed worker's job only when something cleans its registries; running this
    often keeps that delay short. The queue's maintenance lock is the one workers take for
    their own clean-up, so two clean-ups never retry the same job twice.
    """
    connection = context.kindred().redis
    cleaned = 0
    for name in ALL_QUEUES:
        q = queue(name, connection)
        if not q.acquire_maintenance_lock():
            continue
        try:
            clean_registries(q)
            cleaned += 1
        finally:
            q.release_maintenance_lock()
    return cleaned


def sweep_outbox() -> dict:
    """Publish what the relay missed (Redis down at commit, a process killed right after it)
    and re-publish events whose jobs vanished (Redis flushed or restarted without its data)."""
    kindred = context.kindred()
    publisher = kindred.publisher
    unpublished, stale = outbox.events_to_sweep(kindred.uow(publish=False))
    lost = [event_id for event_id in stale if not publisher.job_exists(event_id)]
    published = publisher.publish(unpublished + lost)
    if published:
        log.info("outbox sweep published %d event(s)", len(published))
    return {"unpublished": len(unpublished), "lost": len(lost), "published": len(published)}


def start_due_rematches() -> int:
    """Re-match members whose profile changed and who have stopped editing (debounced)."""
    return matching.start_due_rematches(context.kindred())
