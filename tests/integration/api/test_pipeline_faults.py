"""Fault tests with real processes: a worker killed with -9 in the middle of a matching job.

Real `kindred worker` and `kindred scheduler` processes run against the test's database and
Redis. The killed job must be reclaimed (the scheduler's registry clean-up, every 30 s, after
the worker's 15 s heartbeat lease lapses), retried, and leave exactly one notification: all
within two minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import sqlalchemy as sa
from rq.job import Job, JobStatus

from service.adapters.orm import MatchRequest, Notification, OutboxEvent, Suggestion
from service.adapters.publisher import job_id
from tests.integration.api.conftest import listing_body, sign_up
from workers import context
from workers.jobs import FAULT_DELAY_AFTER, FAULT_DELAY_BEFORE
from workers.queues import SERIALIZER, queue
from workers.worker import build_worker

pytestmark = pytest.mark.slow
DEADLINE_SECONDS = 120
CONSENTING = {"consents": {"matching": True, "peer_introductions": True}}


@pytest.fixture
def process_env(settings) -> dict:
    return dict(
        os.environ,
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        KINDRED_VAR_DIR=str(settings.var_dir),
        KINDRED_LOG_LEVEL="INFO",
    )


@pytest.fixture
def processes(tmp_path, request):
    started: list[subprocess.Popen] = []
    logs = []

    def start(command: str, env: dict) -> subprocess.Popen:
        log = tmp_path / f"{command}-{len(started)}.log"
        logs.append(log)
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "service.cli", command],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    yield start
    for log in logs:  # shown by pytest when the test failed: what happened to event jobs
        lines = log.read_text(errors="replace").splitlines()
        telling = [line for line in lines if "event" in line or "etry" in line or "rror" in line]
        print(f"--- {log.name}", *telling[-40:], sep="\n")
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                kill_hard(process)


def kill_hard(process: subprocess.Popen) -> None:
    """kill -9 the worker and anything it started."""
    family = psutil.Process(process.pid).children(recursive=True)
    for member in [psutil.Process(process.pid), *family]:
        member.kill()
    process.wait(timeout=10)


def wait_for(condition, what: str, timeout: float = DEADLINE_SECONDS) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@pytest.fixture
def asked(app, kindred, verified_partner):
    """A live catalogue (its fan-out done) and a member whose match request is queued."""
    context.use(kindred)
    for title, interests in (("Gentle garden club", ["gardening"]), ("Chess", ["chess"])):
        assert (
            verified_partner.post(
                "/api/v1/listings", json=listing_body(title=title, interests=interests)
            ).status_code
            == 201
        )
    build_worker(kindred.redis).work(burst=True, with_scheduler=False)
    ann = sign_up(app, **CONSENTING)
    request_id = ann.post("/api/v1/members/me/match-requests").json["id"]
    with kindred.uow() as uow:
        event_id = uow.session.scalar(
            sa.select(OutboxEvent.id).where(OutboxEvent.subject == f"match_request:{request_id}")
        )
    return ann, request_id, event_id


def started(kindred, event_id: int) -> bool:
    return job_id(event_id) in queue("matching", kindred.redis).started_job_registry


def request_status(kindred, request_id: int) -> str:
    with kindred.uow() as uow:
        return uow.session.get(MatchRequest, request_id).status.value


def count(kindred, model, member_id: int) -> int:
    with kindred.uow() as uow:
        return uow.session.scalar(
            sa.select(sa.func.count()).select_from(model).where(model.member_id == member_id)
        )


@pytest.mark.parametrize("moment", ["before its effects", "after its effects"])
def test_a_worker_killed_mid_job_still_gives_one_answer(
    kindred, asked, processes, process_env, moment
):
    ann, request_id, event_id = asked
    delay = FAULT_DELAY_BEFORE if moment == "before its effects" else FAULT_DELAY_AFTER
    doomed = processes("worker", {**process_env, delay: "30"})
    wait_for(lambda: started(kindred, event_id), "the matching job starts", timeout=60)
    if moment == "after its effects":
        wait_for(lambda: request_status(kindred, request_id) == "done", "effects committed")
    kill_hard(doomed)
    assert started(kindred, event_id)  # RQ still believes the job is running

    processes("worker", process_env)
    processes("scheduler", process_env)
    seconds = wait_for(
        lambda: (
            Job.fetch(job_id(event_id), kindred.redis, serializer=SERIALIZER).get_status()
            == JobStatus.FINISHED
            and count(kindred, Notification, ann.member_id) >= 1
        ),
        "the killed job is re-run and the member notified",
    )
    assert request_status(kindred, request_id) == "done"
    assert count(kindred, Notification, ann.member_id) == 1
    assert count(kindred, Suggestion, ann.member_id) == 2
    print(f"recovered {seconds:.0f} s after the kill ({moment})")
