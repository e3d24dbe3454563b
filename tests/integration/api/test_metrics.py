"""GET /metrics: request latency by route, queue depths read from Redis, job durations and
failures by queue, emails sent and failed, matcher fits; all recorded by the real code paths
(the API, kindred's worker, SMTP) and read back from the exposition a scrape gets."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from service.adapters.matcher_source import MatcherCache
from service.app import create_app
from service.bootstrap import bootstrap
from tests.integration.api.conftest import run_worker, sign_up
from tests.integration.api.test_email_notifications import (  # noqa: F401 (fixtures)
    WANTS_EMAIL,
    free_port,
    live_listing,
    smtp_inbox,
    use_mail,
)
from workers import context
from workers.queues import queue


@pytest.fixture(autouse=True)
def jobs_use_this_service(kindred):
    context.use(kindred)


def scrape(app) -> dict[tuple[str, tuple], float]:
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_timed_by_route_never_by_raw_path(app, anonymous):
    listing_route = "/api/v1/listings/<int(max=2147483647):listing_id>"
    before = value(
        "kindred_http_request_duration_seconds_count",
        route=listing_route,
        method="GET",
        status="401",
    )
    assert anonymous.get("/api/v1/listings/987654").status_code == 401
    assert anonymous.get("/no/such/page/424242").status_code == 404
    samples = scrape(app)
    key = (
        "kindred_http_request_duration_seconds_count",
        (("method", "GET"), ("route", listing_route), ("status", "401")),
    )
    assert samples[key] == before + 1
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert samples[("kindred_http_request_duration_seconds_count", unmatched)] >= 1
    # No label holds a raw path: a sample's value may contain any digits (a sum such as
    # 0.0611918699987654 once matched a search of the whole text).
    label_values = [value for _, labels in samples for _, value in labels]
    assert label_values and not any("987654" in v or "424242" in v for v in label_values)


def test_metrics_are_not_rate_limited_nor_in_the_openapi_document(settings):
    kindred = bootstrap(dataclasses.replace(settings, api_rate_limit="2 per minute"))
    app = create_app(kindred=kindred)
    app.config["TESTING"] = True
    client = app.test_client()
    try:
        assert [client.get("/api/v1/listings").status_code for _ in range(3)][-1] == 429
        assert all(client.get("/metrics").status_code == 200 for _ in range(5))
        assert "/metrics" not in client.get("/openapi.json").json["paths"]
    finally:
        kindred.redis.flushdb()
        kindred.close()


def test_queue_depths_are_read_from_redis_at_scrape_time(app, kindred):
    matching = queue("matching", kindred.redis)
    for _ in range(3):
        matching.enqueue("json.loads", "[]")
    samples = scrape(app)
    assert samples[("kindred_queue_jobs", (("queue", "matching"), ("state", "waiting")))] == 3
    assert samples[("kindred_queue_jobs", (("queue", "notifications"), ("state", "waiting")))] == 0
    assert samples[("kindred_redis_up", ())] == 1
    run_worker(kindred)
    samples = scrape(app)
    assert samples[("kindred_queue_jobs", (("queue", "matching"), ("state", "waiting")))] == 0


def test_jobs_are_timed_and_failures_counted_by_queue(app, kindred):
    runs = value("kindred_job_duration_seconds_count", queue="maintenance")
    failures = value("kindred_job_failures_total", queue="maintenance")
    maintenance = queue("maintenance", kindred.redis)
    maintenance.enqueue("json.loads", "[]")
    maintenance.enqueue("json.loads", "not json")  # raises
    run_worker(kindred)
    samples = scrape(app)
    assert samples[("kindred_job_duration_seconds_count", (("queue", "maintenance"),))] == runs + 2
    assert samples[("kindred_job_failures_total", (("queue", "maintenance"),))] == failures + 1


@pytest.mark.usefixtures("live_listing")
def test_emails_sent_are_counted_by_channel(app, kindred, request):
    controller, inbox = request.getfixturevalue("smtp_inbox")
    use_mail(kindred, f"smtp://127.0.0.1:{controller.port}")
    sent = value("kindred_notifications_sent_total", channel="email")
    member = sign_up(app, email="counted@example.org", **WANTS_EMAIL)
    member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    assert len(inbox.messages) == 1
    assert scrape(app)[("kindred_notifications_sent_total", (("channel", "email"),))] == sent + 1


@pytest.mark.usefixtures("live_listing")
def test_emails_that_fail_are_counted_by_channel(app, kindred):
    use_mail(kindred, f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    failed = value("kindred_notifications_failed_total", channel="email")
    sent = value("kindred_notifications_sent_total", channel="email")
    member = sign_up(app, email="uncounted@example.org", **WANTS_EMAIL)
    member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    samples = scrape(app)
    assert samples[("kindred_notifications_failed_total", (("channel", "email"),))] == failed + 1
    assert value("kindred_notifications_sent_total", channel="email") == sent


@pytest.mark.usefixtures("live_listing")
def test_matcher_fits_are_timed(app, kindred):
    fits = value("kindred_matcher_fit_seconds_count")
    cache = MatcherCache()
    with kindred.uow() as uow:
        cache.get(uow.session)
        cache.get(uow.session)  # nothing changed: no second fit
    assert scrape(app)[("kindred_matcher_fit_seconds_count", ())] == fits + 1
