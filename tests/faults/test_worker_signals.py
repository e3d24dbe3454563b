"""Workers stopped in the middle of a job: kill -9 (a crash, an OOM kill, a stop timeout that
ran out) and SIGTERM (a deploy: warm shutdown).

A killed worker's job is reclaimed once its heartbeat lease lapses (15 s) by the scheduler's
registry clean-up (every 30 s), retried, and leaves exactly one answer, whether the worker died
before the job's effects committed or after. A worker told to stop finishes its job first.
"""

from __future__ import annotations

import signal
import time

import pytest
from rq.job import JobStatus

from service.adapters.orm import MatchRequest, OutboxEvent
from tests.faults.conftest import (
    CONSENTING,
    Ledger,
    check_exactly_once,
    event_job_status,
    kill_hard,
    wait_for,
    wait_settled,
)
from workers.jobs import FAULT_DELAY_AFTER, FAULT_DELAY_BEFORE
from workers.queues import MATCHING, queue

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
STALLED_SECONDS = "60"  # a job this worker takes stays in the middle long enough to be killed


def running_event_ids(stack) -> set[int]:
    started = queue(MATCHING, stack.redis).started_job_registry.get_job_ids()
    return {int(job.removeprefix("event-")) for job in started if job.startswith("event-")}


def request_of(stack, event_id: int) -> MatchRequest:
    with stack.kindred.uow() as uow:
        event = uow.session.get(OutboxEvent, event_id)
        return uow.session.get(MatchRequest, event.subject_id)


def test_sigkill_mid_job_before_and_after_its_effects(stack, figures):
    stack.catalogue(stack.partner())
    members = stack.members(6, **CONSENTING)
    stack.processes.scheduler()
    ledger = Ledger()

    # One worker stalls before its job's effects, a second one after they committed.
    before = stack.processes.worker(**{FAULT_DELAY_BEFORE: STALLED_SECONDS})
    for member in members:
        assert ledger.ask(member).status_code == 202
    wait_for(lambda: len(running_event_ids(stack)) == 1, "the first worker takes a job", 60)
    (stalled_before,) = running_event_ids(stack)
    after = stack.processes.worker(**{FAULT_DELAY_AFTER: STALLED_SECONDS})
    wait_for(lambda: len(running_event_ids(stack)) == 2, "the second worker takes a job", 60)
    (stalled_after,) = running_event_ids(stack) - {stalled_before}
    wait_for(
        lambda: request_of(stack, stalled_after).status.value == "done",
        "the second job's effects commit",
        60,
    )
    assert request_of(stack, stalled_before).status.value == "queued"

    kill_hard(before)
    kill_hard(after)
    killed_at = time.monotonic()
    assert running_event_ids(stack) == {stalled_before, stalled_after}  # RQ still thinks so

    stack.processes.worker()
    wait_settled(stack.kindred, ledger, "every request answered after the kill")
    figures.recovery_seconds = time.monotonic() - killed_at
    for event_id in (stalled_before, stalled_after):
        assert event_job_status(stack.kindred, event_id) == JobStatus.FINISHED
    check_exactly_once(stack.kindred, ledger, figures, expect_results=len(members))
    figures.notes.append("recovery: from the kill to the last answer (lease 15 s + clean-up 30 s)")


def test_sigterm_mid_job_finishes_it_then_stops(stack, figures):
    stack.catalogue(stack.partner())
    members = stack.members(4, **CONSENTING)
    stack.processes.scheduler()
    ledger = Ledger()

    stopping = stack.processes.worker(**{FAULT_DELAY_AFTER: "5"})
    for member in members:
        assert ledger.ask(member).status_code == 202
    wait_for(lambda: len(running_event_ids(stack)) == 1, "the worker takes a job", 60)
    (in_hand,) = running_event_ids(stack)
    stopping.send_signal(signal.SIGTERM)
    signalled_at = time.monotonic()

    stopping.wait(timeout=30)
    assert stopping.returncode == 0
    assert event_job_status(stack.kindred, in_hand) == JobStatus.FINISHED  # finished, not cut
    assert request_of(stack, in_hand).status.value == "done"
    assert "warm shut down requested" in stack.processes.log_of(stopping)

    stack.processes.worker()  # the deploy's new worker takes the rest
    wait_settled(stack.kindred, ledger, "every request answered after the deploy")
    figures.recovery_seconds = time.monotonic() - signalled_at
    check_exactly_once(stack.kindred, ledger, figures, expect_results=len(members))
    figures.notes.append("recovery: from SIGTERM to the last answer, a new worker started")
