"""Queue names and how every kindred process opens a queue (explicit connection, JSON jobs)."""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

MATCHING = "matching"
NOTIFICATIONS = "notifications"
MAINTENANCE = "maintenance"
# Also the order a worker serves them in: maintenance first, so the registry clean-up and the
# outbox sweep are never starved by a backlog (a fan-out, a demo seed), then matching.
ALL_QUEUES = (MAINTENANCE, MATCHING, NOTIFICATIONS)

# JSON, not pickle: a job's arguments stay readable ids and plain values, and a failed job kept
# in Redis can never carry a Python object (or the personal data inside one).
SERIALIZER = JSONSerializer


def queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection, serializer=SERIALIZER)
