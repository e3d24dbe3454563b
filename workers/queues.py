"""Queue names and how every kindred process opens a queue (explicit connection, JSON jobs)."""

from __future__ import annotations

import os

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from service.domain import regions as region_config
from service.domain.events import MATCHING_QUEUE, matching_queue

MATCHING = MATCHING_QUEUE
NOTIFICATIONS = "notifications"
MAINTENANCE = "maintenance"


def all_queues(regions: region_config.Regions | None = None) -> tuple[str, ...]:
    """Every queue, in the order a worker serves them: maintenance first, so the registry
    clean-up and the outbox sweep are never starved by a backlog (a fan-out, a demo seed), then
    matching, then notifications. With regions, each region's `matching-<region>` follows
    `matching` (kept: jobs queued there before regions were configured still drain)."""
    regional = tuple(matching_queue(name) for name in regions.names) if regions else ()
    return (MAINTENANCE, MATCHING, *regional, NOTIFICATIONS)


# KINDRED_REGIONS is read here as Settings.from_env reads it: every process of a deployment must
# be given the same value, so the scheduler, the sweep and the clean-up see every queue.
ALL_QUEUES = all_queues(region_config.parse(os.environ.get("KINDRED_REGIONS")))

# JSON, not pickle: a job's arguments stay readable ids and plain values, and a failed job kept
# in Redis can never carry a Python object (or the personal data inside one).
SERIALIZER = JSONSerializer


def queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection, serializer=SERIALIZER)
