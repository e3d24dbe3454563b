"""What Redis may hold about one member, and how erasure removes it.

Jobs carry event ids only, but an erased member's jobs (queued, waiting to retry, failed, done)
still say that something happened to them; kept idempotent answers hold their token and profile
(encrypted); counters and cooldowns name their id.
"""

from __future__ import annotations

from rq.job import Job
from rq.registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)

IDEMPOTENCY_PREFIX = "kindred:idempotency"
SIGN_IN_COOLDOWN = "kindred:sign-in-link-cooldown:{member_id}"
RATE_LIMIT_PREFIX = "kindred-limits"  # Flask-Limiter's keys (service/api/limits.py)
RATE_LIMIT_COUNTERS = "*" + RATE_LIMIT_PREFIX + "*/member:{member_id}/*"
REGISTRIES = (
    StartedJobRegistry,
    ScheduledJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    DeferredJobRegistry,
    CanceledJobRegistry,
)


def answers_index(owner: str) -> str:
    """The set of kept idempotent answers that belong to `owner` ("member:5")."""
    return f"{IDEMPOTENCY_PREFIX}:owner:{owner}"


def forget_member(connection, member_id: int, job_ids: list[str]) -> None:
    """Delete the member's jobs from every queue and registry, their kept answers, counters and
    cooldowns. Raises redis.RedisError when Redis cannot be reached."""
    forget_jobs(connection, job_ids)
    index = answers_index(f"member:{member_id}")
    kept = list(connection.smembers(index))
    counters = list(connection.scan_iter(RATE_LIMIT_COUNTERS.format(member_id=member_id)))
    connection.delete(index, SIGN_IN_COOLDOWN.format(member_id=member_id), *kept, *counters)


def forget_jobs(connection, job_ids: list[str]) -> None:
    from workers.queues import ALL_QUEUES, SERIALIZER, queue

    if not job_ids:
        return
    for name in ALL_QUEUES:
        q = queue(name, connection)
        pipe = connection.pipeline()
        for job_id in job_ids:
            pipe.lrem(q.key, 0, job_id)
            pipe.lrem(q.intermediate_queue.key, 0, job_id)
        for registry in REGISTRIES:
            pipe.zrem(registry(queue=q).key, *job_ids)
        pipe.execute()
    for job in Job.fetch_many(job_ids, connection=connection, serializer=SERIALIZER):
        if job is not None:
            # A running job's entry is "job id:execution id": removed by its executions.
            StartedJobRegistry(queue=queue(job.origin, connection)).remove_executions(job)
            job.delete(remove_from_queue=False)
