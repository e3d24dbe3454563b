"""The SMTP server stops while emails are due, and comes back: each email is delivered once
(counted at the server by Message-ID), after the retries with backoff that the outage caused;
one whose retries ran out is a visible dead letter, and sent once when retried."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from service.adapters.orm import JobFailure, NotificationDelivery
from tests.faults.conftest import (
    WANTS_EMAIL,
    Ledger,
    check_exactly_once,
    wait_for,
    wait_settled,
)
from tests.integration.api.conftest import run_worker
from workers.scheduler import build_scheduler

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def email_deliveries(stack) -> list[tuple[str, int]]:
    with stack.kindred.uow() as uow:
        rows = uow.session.execute(
            sa.select(NotificationDelivery.status, NotificationDelivery.attempts)
        )
        return [tuple(row) for row in rows]


def test_smtp_down_while_emails_are_due_then_back(stack, smtp_sink, figures):
    stack.use_smtp(smtp_sink.url)  # nothing listens there yet: the server is down
    stack.catalogue(stack.partner())
    members = stack.members(5, **WANTS_EMAIL)
    stack.processes.worker()
    stack.processes.scheduler()
    ledger = Ledger()
    for member in members:
        assert ledger.ask(member).status_code == 202

    def all_tried_and_failed() -> bool:
        found = email_deliveries(stack)
        return len(found) == len(members) and all(
            status == "pending" and attempts >= 1 for status, attempts in found
        )

    wait_for(all_tried_and_failed, "every email tried while the server is down", 60)
    smtp_sink.start()
    back_at = time.monotonic()
    wait_settled(stack.kindred, ledger, "every email delivered", mail_ids=smtp_sink.received)
    figures.recovery_seconds = time.monotonic() - back_at
    attempts = sum(attempts for _, attempts in email_deliveries(stack))
    figures.notes.append(f"{attempts} SMTP attempts for {len(members)} emails")
    check_exactly_once(
        stack.kindred, ledger, figures, expect_results=len(members), mail_ids=smtp_sink.received
    )
    assert sum(smtp_sink.received.values()) == len(members)


def test_an_email_dead_after_its_retries_is_sent_once_when_retried(
    stack, smtp_sink, figures, monkeypatch
):
    """The dead-letter path, with the retries cut to one so it dies in seconds: in job_failures
    and RQ's failed registry, then `kindred jobs retry --all` and a worker send it once."""
    monkeypatch.setattr("service.adapters.publisher.RETRIES", 1)
    monkeypatch.setattr("service.adapters.publisher.FIRST_RETRY_SECONDS", 1)
    stack.use_smtp(smtp_sink.url)
    stack.catalogue(stack.partner())
    (member,) = stack.members(1, **WANTS_EMAIL)
    ledger = Ledger()
    assert ledger.ask(member).status_code == 202
    run_worker(stack.kindred)  # in this process, to have its retries cut: the first attempt
    wait_for(lambda: email_deliveries(stack) == [("pending", 1)], "the first attempt fails", 10)
    scheduler = build_scheduler(stack.redis)
    wait_for(lambda: scheduler.enqueue_jobs() is not None and _retry_queued(stack), "retry due")
    run_worker(stack.kindred)  # the last attempt fails too
    assert email_deliveries(stack) == [("failed", 2)]
    with stack.kindred.uow() as uow:
        (failure,) = uow.session.scalars(sa.select(JobFailure)).all()
    assert "ConnectionRefusedError" in failure.error and "@" not in failure.error

    smtp_sink.start()
    back_at = time.monotonic()
    retried = subprocess.run(
        [sys.executable, "-m", "service.cli", "jobs", "retry", "--all"],
        env=stack.processes.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert retried.returncode == 0, retried.stderr
    assert "re-queued 1 job(s)" in retried.stdout
    stack.processes.worker()
    wait_settled(stack.kindred, ledger, "the dead letter delivered", mail_ids=smtp_sink.received)
    figures.recovery_seconds = time.monotonic() - back_at
    check_exactly_once(
        stack.kindred, ledger, figures, expect_results=1, mail_ids=smtp_sink.received
    )
    with stack.kindred.uow() as uow:
        assert uow.session.scalar(sa.select(JobFailure.retried_at)) is not None


def _retry_queued(stack) -> bool:
    from workers.queues import NOTIFICATIONS, queue

    return bool(queue(NOTIFICATIONS, stack.redis).job_ids)
