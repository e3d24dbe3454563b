"""Start an RQ worker on kindred's queues."""

from __future__ import annotations

from redis import Redis
from rq import Worker

from workers.queues import ALL_QUEUES, SERIALIZER, queue


def build_worker(connection: Redis, queue_names=ALL_QUEUES, name: str | None = None) -> Worker:
    return Worker(
        [queue(q, connection) for q in queue_names],
        connection=connection,
        serializer=SERIALIZER,
        name=name,
    )
