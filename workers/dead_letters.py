"""Dead letters: jobs that used up their retries, listed and re-queued (`kindred jobs ...`)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from redis import Redis
from rq.job import Job

from service.adapters.orm import JobFailure, utcnow
from workers.queues import ALL_QUEUES, SERIALIZER, queue


@dataclass(frozen=True)
class DeadJob:
    job_id: str
    queue: str
    function: str
    failed_at: object
    error: str  # the exception's last line: never the arguments


def failed_jobs(connection: Redis) -> list[DeadJob]:
    found = []
    for name in ALL_QUEUES:
        registry = queue(name, connection).failed_job_registry
        for job in Job.fetch_many(registry.get_job_ids(), connection, serializer=SERIALIZER):
            if job is not None:
                found.append(_dead(job, name))
    return sorted(found, key=lambda dead: str(dead.failed_at))


def _dead(job: Job, queue_name: str) -> DeadJob:
    result = job.latest_result()
    text = (result.exc_string if result is not None else None) or ""
    last_line = text.strip().splitlines()[-1] if text.strip() else "unknown error"
    return DeadJob(job.id, queue_name, job.func_name or "?", job.ended_at, last_line[:200])


def retry(connection: Redis, job_ids: list[str], kindred=None) -> list[str]:
    """Put dead jobs back on their queues; each runs again with its retries left."""
    requeued = []
    wanted = set(job_ids)
    for name in ALL_QUEUES:
        registry = queue(name, connection).failed_job_registry
        for job_id in registry.get_job_ids():
            if job_id in wanted:
                registry.requeue(job_id)
                requeued.append(job_id)
    if kindred is not None and requeued:
        with kindred.uow(publish=False) as uow:
            uow.session.execute(
                sa.update(JobFailure)
                .where(JobFailure.job_id.in_(requeued), JobFailure.retried_at.is_(None))
                .values(retried_at=utcnow())
            )
            uow.commit()
    return requeued
