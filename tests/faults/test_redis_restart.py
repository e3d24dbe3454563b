"""Redis crashes (kill -9) and comes back while members are asking for matches and workers are
answering them.

Redis is configured as in docker-compose.yml (append-only file, fsync every second), so it
comes back with its queues. Requests keep being accepted while it is down (the events wait in
the outbox); the worker and the scheduler ride the outage out, one worker being in the middle
of a job when Redis goes: that job is reclaimed and retried, and still answers once.
"""

from __future__ import annotations

import time

import pytest
from rq import Worker

from tests.faults.conftest import (
    CONSENTING,
    Ledger,
    Load,
    check_exactly_once,
    wait_for,
    wait_settled,
)
from workers.jobs import FAULT_DELAY_AFTER

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
DOWN_SECONDS = 5


def busy(connection, pid: int) -> bool:
    return any(w.pid == pid and w.get_state() == "busy" for w in Worker.all(connection=connection))


def test_redis_restart_under_load(stack, figures):
    stack.catalogue(stack.partner())
    members = stack.members(30, **CONSENTING)
    worker = stack.processes.worker()
    # A second worker lingers in each job after its effects, to be mid-job when Redis goes.
    lingering = stack.processes.worker(**{FAULT_DELAY_AFTER: "3"})
    scheduler = stack.processes.scheduler()
    stack.processes.wait_ready(stack.redis, workers=2)
    ledger = Ledger()
    load = Load(ledger, members, interval=0.2)
    load.start()
    wait_for(lambda: load.asked >= 8 and busy(stack.redis, lingering.pid), "a worker mid-job", 30)
    stack.servers.redis.kill()
    down_at, asked_before = time.monotonic(), load.asked
    time.sleep(DOWN_SECONDS)  # the outage itself: requests keep arriving meanwhile
    stack.servers.redis.start()
    back_at, asked_during = time.monotonic(), load.asked - asked_before
    load.finish()
    wait_settled(stack.kindred, ledger, "every request answered", 150)
    figures.recovery_seconds = time.monotonic() - back_at
    figures.notes.append(
        f"down {back_at - down_at:.1f} s; {asked_during} accepted while down; "
        f"slowest answer {max(load.latencies):.2f} s"
    )
    check_exactly_once(stack.kindred, ledger, figures, expect_results=len(members))
    # Regression: RQ's worker and cron scheduler quit on a lost Redis connection.
    assert worker.poll() is None and lingering.poll() is None and scheduler.poll() is None
    assert "a new one starts" in stack.processes.log_of(lingering)
    assert "starts again when Redis is back" in stack.processes.log_of(scheduler)
