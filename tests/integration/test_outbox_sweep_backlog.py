"""The outbox sweep while a backlog waits (found by bench/load.py).

Under load every event published over a minute ago and not yet handled is "stale", and the sweep
asks whether each one's job is orphaned. It used to read the whole queue and clean three
registries once per event: with 1,700 jobs waiting, a sweep took 1-4 s, on the queue the workers
serve first. It reads each queue's lists once per sweep now, and still finds the orphans.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis.commands.core
import sqlalchemy as sa

from service.adapters.orm import OutboxEvent
from service.adapters.publisher import job_id
from service.domain.events import EventKind, subject
from service.services import outbox
from workers import context
from workers.maintenance import sweep_outbox
from workers.queues import ALL_QUEUES, queue

BACKLOG = 50


@pytest.fixture
def backlog(kindred) -> list[int]:
    """BACKLOG events published two minutes ago, their jobs still waiting in the queue."""
    context.use(kindred)
    with kindred.uow(publish=False) as uow:
        events = [
            outbox.record(uow, EventKind.LISTING_PUBLISHED, subject("listing", n))
            for n in range(BACKLOG)
        ]
        uow.commit()
    ids = [event.id for event in events]
    assert kindred.publisher.publish(ids) == ids
    with kindred.uow(publish=False) as uow:
        for event in uow.session.scalars(sa.select(OutboxEvent)):
            event.created_at -= timedelta(minutes=2)
            event.published_at -= timedelta(minutes=2)
        uow.commit()
    return ids


@pytest.fixture
def list_reads(monkeypatch) -> list:
    """Every LRANGE the process sends (pipelined or not): reads of a queue's lists."""
    reads = []
    original = redis.commands.core.ListCommands.lrange

    def counting(self, name, start, end):
        reads.append(name)
        return original(self, name, start, end)

    monkeypatch.setattr(redis.commands.core.ListCommands, "lrange", counting)
    return reads


def test_a_backlog_is_swept_with_one_read_of_each_queue(kindred, backlog, list_reads):
    assert sweep_outbox() == {"unpublished": 0, "lost": 0, "published": 0, "revived": 0}
    # A queue and the list of jobs workers have taken from it, once each: not once per event.
    assert len(list_reads) <= 2 * len(ALL_QUEUES)
    matching = queue("matching", kindred.redis)
    assert matching.job_ids == [job_id(e) for e in backlog]  # nothing enqueued twice


def test_orphans_in_a_backlog_are_revived_and_the_rest_left_alone(kindred, backlog):
    matching = queue("matching", kindred.redis)
    orphans = [job_id(backlog[3]), job_id(backlog[40])]
    for orphan in orphans:
        matching.remove(orphan)  # a worker killed between taking a job and starting it
    running, dead = job_id(backlog[7]), job_id(backlog[8])
    matching.remove(running)  # taken and running: in the started registry, as "id:execution"
    kindred.redis.zadd(matching.started_job_registry.key, {f"{running}:e1": time.time() + 60})
    matching.remove(dead)
    matching.failed_job_registry.add(matching.fetch_job(dead), ttl=60)

    assert sweep_outbox()["revived"] == 2
    waiting = matching.job_ids
    assert sorted(orphan for orphan in orphans if orphan in waiting) == sorted(orphans)
    assert len(waiting) == len(set(waiting)) == BACKLOG - 2  # the running and the dead one
    assert running not in waiting and dead not in waiting
    assert sweep_outbox()["revived"] == 0  # queued again: left alone
