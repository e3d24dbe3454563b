"""The queue publisher: outbox events -> RQ jobs, one per event, the job id made from the event id.

RQ's `unique=True` enqueue refuses a second job with the same id atomically, so a relay and a
sweep that both publish an event still make one job. Redis being down is not an error here: the
events stay unpublished in the database and the sweep publishes them when Redis is back.
"""

from __future__ import annotations

import contextlib
import logging
import random

import redis
import sqlalchemy as sa
from rq import Callback, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from rq.utils import as_text

from service.adapters.orm import OutboxEvent, utcnow
from service.domain.errors import Unavailable
from service.domain.events import queue_for

log = logging.getLogger(__name__)

HANDLER = "workers.jobs.handle_event"
FAILURE_CALLBACK = "workers.failures.record_failure"
RETRIES = 5
FIRST_RETRY_SECONDS = 5
JOB_TIMEOUT_SECONDS = 300
RESULT_TTL_SECONDS = 3600
FAILURE_TTL_SECONDS = 30 * 24 * 3600  # dead letters stay visible for a month
REQUEST_ID_META = "request_id"


def job_id(event_id: int) -> str:
    return f"event-{event_id}"


def backoff_with_jitter(retries: int | None = None, first: float | None = None) -> list[int]:
    """Exponential waits (5, 10, 20, 40, 80 s), each moved by up to 20% so that many jobs
    failing together (Redis restarting, an SMTP outage) do not all come back at once."""
    retries = RETRIES if retries is None else retries
    first = FIRST_RETRY_SECONDS if first is None else first
    return [max(1, round(first * 2**n * random.uniform(0.8, 1.2))) for n in range(retries)]


class EventPublisher:
    def __init__(self, kindred):
        self._kindred = kindred

    def __call__(self, event_ids: list[int]) -> None:
        """The relay, right after a commit: the change is made, whatever happens here. Redis or
        the database going away now leaves the events in the outbox for the sweep; it must not
        turn an accepted request into an error (its client would think nothing was done)."""
        try:
            self.publish(event_ids)
        except (Unavailable, sa.exc.SQLAlchemyError) as error:
            log.warning(
                "database unavailable after a commit, %d event(s) left for the sweep: %s",
                len(event_ids),
                type(error.__cause__ or error).__name__,
            )

    def publish(self, event_ids: list[int]) -> list[int]:
        """Enqueue a job for each event; the ones handed to RQ are marked published."""
        from service.services import outbox

        publishable = self._publishable(event_ids)
        published = []
        try:
            for event_id in event_ids:
                if event_id in publishable:
                    self._enqueue(event_id, *publishable[event_id])
                    published.append(event_id)
        except redis.exceptions.RedisError as error:
            # The request still succeeds: the events wait in the outbox for the sweep.
            log.warning(
                "Redis unavailable, %d event(s) left for the sweep: %s",
                len(event_ids) - len(published),
                type(error).__name__,
            )
        if published:
            outbox.mark_published(self._kindred.uow(publish=False), published)
        return published

    def job_exists(self, event_id: int) -> bool:
        return Job.exists(job_id(event_id), connection=self._kindred.redis)

    def recover_stale(self, event_ids: list[int]) -> tuple[list[int], list[int]]:
        """(lost, revived) among events published a while ago and not yet handled. Lost: their
        job is gone from Redis (flushed, restarted without its data), to be published again.
        Revived: their job exists but nothing would ever run it, so it is put back on its queue.

        A worker killed after taking a job but before it marked the job started leaves
        the job "queued" yet in no queue; RQ's clean-up then drops it from the started
        registry without a retry. Only jobs in no list at all are revived: one that is queued,
        waiting to retry, running or dead-lettered is left alone.

        The queues' lists are read once for all the events, in one MULTI/EXEC. The sweep asks
        about up to 500 events while a backlog waits (every event published over a minute ago
        and not yet handled); reading a long queue and cleaning three registries for each of
        them took seconds per sweep under load, on the queue the workers serve first.
        """
        from workers.queues import SERIALIZER, queue

        connection = self._kindred.redis
        # One round trip for every job; asking about each in turn took a call per event.
        jobs = Job.fetch_many([job_id(e) for e in event_ids], connection, serializer=SERIALIZER)
        lost = [e for e, job in zip(event_ids, jobs, strict=True) if job is None]
        found = [(e, job) for e, job in zip(event_ids, jobs, strict=True) if job is not None]
        placed = self._placed_job_ids({job.origin for _, job in found})
        revived = []
        for event_id, job in found:
            if job.id in placed[job.origin]:
                continue
            # Read after the lists: a job that finished meanwhile left them for good.
            if job.get_status(refresh=True) in (JobStatus.FINISHED, JobStatus.FAILED):
                continue
            queue(job.origin, connection).enqueue_job(job)
            log.warning("revived orphaned job %s", job.id)
            revived.append(event_id)
        return lost, revived

    def _placed_job_ids(self, origins: set[str]) -> dict[str, set[str]]:
        """Every job id each queue holds in any of its lists (waiting, taken by a worker,
        running, waiting to retry, dead), read at one moment: a job moving from one list to
        another meanwhile is never missed."""
        from workers.queues import queue

        pipe = self._kindred.redis.pipeline(transaction=True)
        readers = {}
        for origin in sorted(origins):
            rq_queue = queue(origin, self._kindred.redis)
            pipe.lrange(rq_queue.key, 0, -1)
            pipe.lrange(rq_queue.intermediate_queue.key, 0, -1)
            registries = (
                rq_queue.started_job_registry,  # entries are "job id:execution id"
                rq_queue.scheduled_job_registry,
                rq_queue.failed_job_registry,
            )
            for registry in registries:
                pipe.zrange(registry.key, 0, -1)
            readers[origin] = [as_text, as_text, *(r.parse_job_id for r in registries)]
        replies = iter(pipe.execute())
        placed: dict[str, set[str]] = {}
        for origin, parsers in readers.items():  # the replies come in the order asked
            placed[origin] = set()
            for parse in parsers:
                placed[origin].update(parse(entry) for entry in next(replies))
        return placed

    def _publishable(self, event_ids: list[int]) -> dict[int, tuple[str, str | None, str | None]]:
        """{event id: (kind, request id, region)} of the events that may be published now
        (deferred ones wait for the sweep), read in one session. The region is the one the event
        names, else, when regions are configured, its subject's (for matching events)."""
        with self._kindred.uow(publish=False) as uow:
            rows = uow.session.execute(
                sa.select(
                    OutboxEvent.id, OutboxEvent.kind, OutboxEvent.request_id, OutboxEvent.region
                ).where(
                    OutboxEvent.id.in_(event_ids),
                    sa.or_(
                        OutboxEvent.available_at.is_(None), OutboxEvent.available_at <= utcnow()
                    ),
                )
            ).all()
            regions = self._kindred.settings.regions
            placed = {}
            if regions is not None:
                from service.adapters.region_lookup import regions_of

                # An event naming a region no longer configured goes by its subject's place.
                unplaced = {e: kind for e, kind, _, region in rows if region not in regions.names}
                placed = regions_of(uow.session, regions, unplaced) if unplaced else {}
            return {
                event_id: (kind, request_id, placed.get(event_id, region) if regions else None)
                for event_id, kind, request_id, region in rows
            }

    def _enqueue(
        self, event_id: int, kind: str, request_id: str | None = None, region: str | None = None
    ) -> None:
        from workers.queues import queue

        # Already queued, running, waiting to retry or dead-lettered: one job is enough.
        with contextlib.suppress(DuplicateJobError):
            queue(queue_for(kind, region), self._kindred.redis).enqueue(
                HANDLER,
                event_id,
                job_id=job_id(event_id),
                unique=True,
                retry=Retry(max=RETRIES, interval=backoff_with_jitter()),
                job_timeout=JOB_TIMEOUT_SECONDS,
                result_ttl=RESULT_TTL_SECONDS,
                failure_ttl=FAILURE_TTL_SECONDS,
                on_failure=Callback(FAILURE_CALLBACK),
                description=f"{kind} event {event_id}",
                # The worker logs the job's lines under the id of the request that caused it.
                meta={REQUEST_ID_META: request_id} if request_id else None,
            )
