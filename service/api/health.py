"""Liveness and readiness for load balancers and `make run`."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from service.api.auth import kindred

log = logging.getLogger(__name__)
# A scheduler not yet registered this long after the API started is missing, not starting.
SCHEDULER_GRACE_SECONDS = 60
blp = Blueprint("health", __name__, description="Liveness and readiness probes")


class HealthSchema(Schema):
    status = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.String())


@blp.get("/healthz")
@blp.response(200, HealthSchema)
def healthz():
    """The process is alive (no dependency is checked)."""
    return {"status": "ok", "checks": {}}


@blp.get("/readyz")
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="A dependency is unreachable")
def readyz():
    """Ready to serve: the database and Redis answer, and a scheduler is alive.

    `scheduler` is `starting` (and still ready) while none has registered in the first
    SCHEDULER_GRACE_SECONDS of this process: `kindred run` starts the API and the scheduler
    together, and either may be up first. After that a missing scheduler is `unavailable`."""
    checks = {"database": _check(_ping_database), "redis": _check(_ping_redis)}
    checks["scheduler"] = _scheduler() if checks["redis"] == "ok" else "unavailable"
    ready = all(value in ("ok", "starting") for value in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


def _scheduler() -> str:
    from workers.health import scheduler_alive

    try:
        if scheduler_alive(kindred().redis):
            return "ok"
    except Exception as error:  # a probe reports any failure rather than raising it
        log.warning("readiness check failed: %s", type(error).__name__)
        return "unavailable"
    started = current_app.extensions.get("kindred_started", 0.0)
    return "starting" if time.monotonic() - started < SCHEDULER_GRACE_SECONDS else "unavailable"


def _ping_database() -> None:
    with kindred().engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def _ping_redis() -> None:
    kindred().redis.ping()


def _check(probe) -> str:
    try:
        probe()
    except Exception as error:  # a probe reports any failure rather than raising it
        log.warning("readiness check failed: %s", type(error).__name__)
        return "unavailable"
    return "ok"
