"""PostgreSQL crashes (an immediate shutdown: every backend killed) and comes back while
members are asking for matches and a worker is answering them.

While it is down, requests are refused with 503 and a JSON error (Retry-After), and write
nothing; jobs that fail meanwhile are retried; what was accepted is answered once.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from service.adapters.orm import OutboxEvent, utcnow
from service.adapters.publisher import EventPublisher
from service.services.outbox import UNPUBLISHED_GRACE
from tests.faults.conftest import (
    CONSENTING,
    Ledger,
    Load,
    check_exactly_once,
    wait_for,
    wait_settled,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
DOWN_SECONDS = 3


def test_postgres_restart_under_load(stack, figures):
    stack.catalogue(stack.partner())
    members = stack.members(40, **CONSENTING)
    worker = stack.processes.worker()
    scheduler = stack.processes.scheduler()
    stack.processes.wait_ready(stack.redis)
    ledger = Ledger()
    load = Load(ledger, members, interval=0.15)
    load.start()
    wait_for(lambda: load.asked >= 12, "the first requests", 30)
    stack.servers.postgres.stop("immediate")
    down_at = time.monotonic()
    time.sleep(DOWN_SECONDS)
    stack.servers.postgres.start()
    back_at = time.monotonic()
    load.finish()
    wait_settled(stack.kindred, ledger, "every accepted request answered", 150)
    figures.recovery_seconds = time.monotonic() - back_at
    figures.notes.append(
        f"down {back_at - down_at:.1f} s; slowest answer {max(load.latencies):.1f} s; "
        f"refusals {sorted({status for _, status, _, _ in ledger.refused})}"
    )
    check_exactly_once(stack.kindred, ledger, figures)
    assert ledger.refused, "no request arrived while PostgreSQL was down"
    for _, status, body, retry_after in ledger.refused:
        assert status == 503, body
        assert body["code"] == 503 and body["message"]
        assert "Traceback" not in str(body) and "psycopg" not in str(body)
        assert retry_after is not None
    assert worker.poll() is None and scheduler.poll() is None


def test_postgres_lost_right_after_a_commit_still_answers_202(stack, figures, monkeypatch):
    """Regression: the relay after the commit read the database again; PostgreSQL gone by
    then turned an accepted (committed) request into an error for its client."""
    stack.catalogue(stack.partner())
    (member,) = stack.members(1, **CONSENTING)
    relay = EventPublisher._publishable

    def crash_first(publisher, event_ids):
        stack.servers.postgres.stop("immediate")  # the commit is done; the relay's read fails
        return relay(publisher, event_ids)

    monkeypatch.setattr(EventPublisher, "_publishable", crash_first)
    ledger = Ledger()
    response = ledger.ask(member)
    monkeypatch.undo()
    assert response.status_code == 202, response.json
    stack.servers.postgres.start()
    back_at = time.monotonic()

    def left_for_the_sweep() -> bool:
        with stack.kindred.uow() as uow:
            created = uow.session.scalar(
                sa.select(OutboxEvent.created_at).where(OutboxEvent.published_at.is_(None))
            )
        return created is not None and created < utcnow() - UNPUBLISHED_GRACE

    wait_for(left_for_the_sweep, "the event waits, unpublished, for the sweep", 30)
    stack.processes.worker()
    stack.processes.scheduler()
    wait_settled(stack.kindred, ledger, "the request answered")
    figures.recovery_seconds = time.monotonic() - back_at
    check_exactly_once(stack.kindred, ledger, figures, expect_results=1)
