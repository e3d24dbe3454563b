"""Maintenance jobs run by the scheduler: the outbox sweep and the job registry cleanup."""

from __future__ import annotations

import logging
import os

from rq.registry import clean_registries

from service.services import connection_checkin, follow_ups, matching, outbox, privacy, rhythm
from workers import context
from workers.queues import ALL_QUEUES, queue

log = logging.getLogger(__name__)

CLEANUP_LOCK_SECONDS = 25  # shorter than the 30 s between clean-ups


def clean_job_registries() -> int:
    """Move jobs of dead workers out of the started registry, so they are retried or failed.

    RQ notices a killed worker's job only when something cleans its registries; running this
    often keeps that delay short. RQ's own maintenance lock cannot be used: a worker takes it
    at start-up and keeps it for its whole maintenance interval (10 minutes) as a rate limit.
    A short lock of our own keeps two of these clean-ups from overlapping; one racing a
    worker's own clean-up is harmless (a retried job is no longer "started", so it is skipped,
    and its retry is keyed by job id).
    """
    from workers.worker import build_worker

    connection = context.kindred().redis
    # Not started, never registered: it only lends RQ's failure handling to the clean-up.
    janitor = build_worker(connection, name=f"janitor-{os.getpid()}")
    cleaned = 0
    for name in ALL_QUEUES:
        q = queue(name, connection)
        lock = f"kindred:registry-cleanup:{name}"
        if not connection.set(lock, janitor.name, nx=True, ex=CLEANUP_LOCK_SECONDS):
            continue
        try:
            clean_registries(q)
            # A worker killed between taking a job and starting it leaves the job in the
            # queue's intermediate list; RQ retries it after a minute there.
            q.intermediate_queue.cleanup(janitor, q)
            cleaned += 1
        finally:
            connection.delete(lock)
    return cleaned


def sweep_outbox() -> dict:
    """Publish what the relay missed (Redis down at commit, a process killed right after it),
    re-publish events whose jobs vanished (Redis flushed or restarted without its data), and
    put back jobs that exist but sit in no queue (a worker killed mid-hand-over)."""
    kindred = context.kindred()
    publisher = kindred.publisher
    unpublished, stale = outbox.events_to_sweep(kindred.uow(publish=False))
    lost, revived = publisher.recover_stale(stale)
    published = publisher.publish(unpublished + lost)
    if published or revived:
        log.info("outbox sweep: %d published, %d revived", len(published), len(revived))
    return {
        "unpublished": len(unpublished),
        "lost": len(lost),
        "published": len(published),
        "revived": len(revived),
    }


def start_due_rematches() -> int:
    """Re-match members whose profile changed and who have stopped editing (debounced)."""
    return matching.start_due_rematches(context.kindred())


def expire_stale_suggestions() -> int:
    """Open suggestions unanswered for three weeks expire (daily)."""
    return matching.expire_stale_suggestions(context.kindred())


def apply_retention() -> dict:
    """Delete old unanswered suggestions, notifications and handled events (daily)."""
    kindred = context.kindred()
    return privacy.apply_retention(kindred, kindred.settings.retention)


def start_weekly_rounds() -> int:
    """Each member's weekly re-match and digest, on their day, in their timezone."""
    return rhythm.start_weekly_rounds(context.kindred())


def send_reminders() -> int:
    """A day's notice of the next session of a listing a member said yes to."""
    return rhythm.send_reminders(context.kindred())


def send_follow_ups() -> int:
    """Keep-in-touch follow-ups a week and three weeks after an introduction or first session."""
    return follow_ups.send_follow_ups(context.kindred())


def offer_connection_checkins() -> int:
    """This month's connection check-in, offered once to members with its consent."""
    return connection_checkin.offer_connection_checkins(context.kindred())
