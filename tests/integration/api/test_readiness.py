"""/readyz and the scheduler: ready once a scheduler is alive; while none has registered, ready
only during the grace after the API started (`kindred run` starts both at once)."""

from __future__ import annotations

import time

from service.api.health import SCHEDULER_GRACE_SECONDS
from workers.scheduler import build_scheduler


def readyz(app):
    response = app.test_client().get("/readyz")
    return response.status_code, response.json["checks"]["scheduler"]


def started_long_ago(app) -> None:
    app.extensions["kindred_started"] = time.monotonic() - SCHEDULER_GRACE_SECONDS - 1


def test_a_new_api_without_a_scheduler_yet_is_ready_as_starting(app):
    assert readyz(app) == (200, "starting")


def test_no_scheduler_after_the_grace_is_not_ready(app):
    started_long_ago(app)
    assert readyz(app) == (503, "unavailable")


def test_a_live_scheduler_makes_it_ready_at_any_age(app, kindred):
    started_long_ago(app)
    scheduler = build_scheduler(kindred.redis)
    scheduler.register_birth()
    assert readyz(app) == (200, "ok")
    scheduler.register_death()
    assert readyz(app) == (503, "unavailable")


def test_a_silent_scheduler_is_gone(app, kindred):
    """A scheduler killed with -9 leaves its registration behind; its heartbeat tells."""
    from rq.cron import cron_scheduler_registry

    started_long_ago(app)
    scheduler = build_scheduler(kindred.redis)
    scheduler.register_birth()
    kindred.redis.zadd(
        cron_scheduler_registry.get_registry_key(), {scheduler.name: time.time() - 3600}
    )
    assert readyz(app) == (503, "unavailable")
