"""X-Request-ID: taken from the caller when it is a sane token, else made up; answered in the
response; on every log line of the request; kept on the outbox events the request records and
handed to their jobs, whose log lines (and the events they record) carry it too."""

from __future__ import annotations

import dataclasses
import json
import logging
import re

import pytest
import sqlalchemy as sa
from rq.job import Job

from service.adapters.orm import OutboxEvent
from service.adapters.publisher import EventPublisher, job_id
from service.app import create_app
from service.bootstrap import bootstrap
from service.observability import logs
from tests.integration.api.conftest import run_worker, sign_up
from tests.integration.api.test_matches_pipeline import (  # noqa: F401 (fixtures)
    CONSENTING,
    catalogue,
    jobs_use_this_service,
)
from workers.queues import SERIALIZER

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize(
    "sent",
    ["f47ac10b-58cc-4372-a567-0e02b3c479d4", "0123456789abcdef0123456789abcdef", "req.42:a_b"],
)
def test_a_sane_request_id_is_kept_and_answered(anonymous, sent):
    assert anonymous.get("/healthz", headers={"X-Request-ID": sent}).headers["X-Request-ID"] == sent


@pytest.mark.parametrize(
    "sent", ["", "has space", "x" * 37, "<script>", "quill.private@example.org", "-leading"]
)
def test_anything_else_is_replaced(anonymous, sent):
    answered = anonymous.get("/healthz", headers={"X-Request-ID": sent}).headers["X-Request-ID"]
    assert GENERATED.fullmatch(answered)


def test_each_request_gets_its_own(anonymous):
    first, second = (anonymous.get("/healthz").headers["X-Request-ID"] for _ in range(2))
    assert GENERATED.fullmatch(first) and first != second


def test_errors_carry_it_too(anonymous):
    response = anonymous.get("/api/v1/members/me", headers={"X-Request-ID": "req-401"})
    assert response.status_code == 401 and response.headers["X-Request-ID"] == "req-401"


def test_it_follows_the_request_into_its_events_and_jobs(app, kindred, caplog):
    caplog.set_level(logging.DEBUG)
    member = sign_up(app, **CONSENTING)
    response = member.post("/api/v1/members/me/match-requests", headers={"X-Request-ID": "req-7"})
    assert response.status_code == 202
    with kindred.uow() as uow:
        (asked,) = uow.session.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.kind == "MatchesRequested")
        ).all()
        assert asked.request_id == "req-7"
    job = Job.fetch(job_id(asked.id), connection=kindred.redis, serializer=SERIALIZER)
    assert job.meta["request_id"] == "req-7"

    caplog.clear()
    run_worker(kindred)
    with kindred.uow() as uow:
        ready = uow.session.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.kind == "MatchesReady")
        ).one()
    assert ready.request_id == "req-7"  # recorded by the job: it inherits the id
    job_lines = [r for r in caplog.records if r.name.startswith("rq.") and r.request_id]
    assert {r.request_id for r in job_lines} == {"req-7"}
    assert len(job_lines) >= 2, "both jobs (matching, the ready note) logged under it"
    assert logs.current_request_id() is None  # nothing leaks out of a job or request


def test_every_log_line_of_a_request_carries_it(settings, caplog):
    kindred = bootstrap(dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0"))
    try:
        client = create_app(kindred=kindred).test_client()
        response = client.get("/readyz", headers={"X-Request-ID": "req-probe"})
    finally:
        kindred.close()
    assert response.status_code == 503
    warnings = [r for r in caplog.records if r.name == "service.api.health"]
    assert warnings and {r.request_id for r in warnings} == {"req-probe"}


def test_the_sweep_hands_it_on_as_the_relay_does(app, kindred):
    member = sign_up(app, **CONSENTING)
    member.post("/api/v1/members/me/match-requests", headers={"X-Request-ID": "req-swept"})
    kindred.redis.flushdb()  # the job is lost: the sweep publishes the event again
    with kindred.uow() as uow:
        event_id = uow.session.scalar(sa.select(OutboxEvent.id))
    assert EventPublisher(kindred).publish([event_id]) == [event_id]
    job = Job.fetch(job_id(event_id), connection=kindred.redis, serializer=SERIALIZER)
    assert job.meta["request_id"] == "req-swept"


def test_log_lines_are_json_with_the_request_id():
    record = logging.LogRecord("kindred.test", logging.INFO, __file__, 1, "event %d", (5,), None)
    plain = json.loads(logs.formatter("json").format(record))
    assert plain["request_id"] is None and plain["message"] == "event 5"
    with logs.request_id_context("req-json"):
        record = logging.getLogger("kindred.test").makeRecord(
            "kindred.test", logging.WARNING, __file__, 1, "hello", (), None
        )
    line = json.loads(logs.formatter("json").format(record))
    assert line["request_id"] == "req-json" and line["level"] == "WARNING"
    assert {"time", "logger", "message"} <= set(line)
    assert "[req-json]" in logs.formatter("text").format(record)
