"""How the queues and their processes are doing: what the dashboard's jobs page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Worker
from rq.cron import CronScheduler

from workers.queues import ALL_QUEUES, queue
from workers.worker import WORKER_TTL_SECONDS

# An idle worker renews its heartbeat at least every 45 s (worker_ttl 60 s - 15, see
# workers.worker), a busy one every 5 s; a scheduler every few seconds. Silence this long means
# it is gone.
WORKER_SILENT_AFTER = timedelta(seconds=WORKER_TTL_SECONDS + 30)
SCHEDULER_SILENT_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class QueueDepth:
    name: str
    waiting: int
    running: int
    failed: int
    scheduled: int  # retries waiting out their backoff


@dataclass(frozen=True)
class ProcessLiveness:
    name: str
    kind: str  # worker | scheduler
    last_heartbeat: datetime | None
    alive: bool
    state: str
    hostname: str | None = None


def queue_depths(connection: Redis) -> list[QueueDepth]:
    depths = []
    for name in ALL_QUEUES:
        rq_queue = queue(name, connection)
        depths.append(
            QueueDepth(
                name=name,
                waiting=rq_queue.count,
                running=rq_queue.started_job_registry.count,
                failed=rq_queue.failed_job_registry.count,
                scheduled=rq_queue.scheduled_job_registry.count,
            )
        )
    return depths


def processes(connection: Redis, now: datetime | None = None) -> list[ProcessLiveness]:
    now = now or datetime.now(UTC)
    found = [
        _liveness(
            worker.name,
            "worker",
            worker.last_heartbeat,
            worker.get_state(),
            now,
            WORKER_SILENT_AFTER,
            worker.hostname,
        )
        for worker in Worker.all(connection=connection)
    ]
    return found + schedulers(connection, now)


def schedulers(connection: Redis, now: datetime | None = None) -> list[ProcessLiveness]:
    now = now or datetime.now(UTC)
    return [
        _liveness(
            scheduler.name,
            "scheduler",
            scheduler.last_heartbeat,  # a property in RQ 3
            "scheduling",
            now,
            SCHEDULER_SILENT_AFTER,
            scheduler.hostname,
        )
        for scheduler in CronScheduler.all(connection)
    ]


def scheduler_alive(connection: Redis, now: datetime | None = None) -> bool:
    """A scheduler has said it is alive recently (what /readyz asks)."""
    return any(found.alive for found in schedulers(connection, now))


def alive_on_host(connection: Redis, kind: str, hostname: str, now: datetime | None = None) -> bool:
    """A worker (or the scheduler) on this host has a fresh heartbeat: a container's health
    check (`kindred alive worker`), where the container's hostname names its processes."""
    return any(
        found.alive and found.kind == kind and found.hostname == hostname
        for found in processes(connection, now)
    )


def _liveness(name, kind, heartbeat, state, now, silent_after, hostname=None) -> ProcessLiveness:
    if heartbeat is not None and heartbeat.tzinfo is None:
        heartbeat = heartbeat.replace(tzinfo=UTC)  # RQ keeps UTC without a zone
    alive = heartbeat is not None and now - heartbeat <= silent_after
    return ProcessLiveness(name, kind, heartbeat, alive, str(state), hostname)
