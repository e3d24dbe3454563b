"""Regions end to end: a member's request goes to their region's queue, a worker serving only
that queue answers it, and the "ready" note waits on `notifications` for another worker."""

from __future__ import annotations

import dataclasses
import json
import signal

import pytest

from service.domain.regions import parse
from tests.integration.api.conftest import listing_body, sign_up
from workers import context
from workers.queues import queue
from workers.worker import build_worker

BRISTOL = {"regions": {"bristol": [51.3, -2.8, 51.6, -2.4]}, "default": "elsewhere"}
CONSENTING = {"consents": {"matching": True, "peer_introductions": True}}


@pytest.fixture(autouse=True)
def regional(kindred):
    kindred.settings = dataclasses.replace(kindred.settings, regions=parse(json.dumps(BRISTOL)))
    context.use(kindred)


def serve(kindred, *names: str) -> None:
    """`kindred worker --queue ... --burst`, RQ's signal handlers restored afterwards."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        build_worker(kindred.redis, names).work(burst=True, with_scheduler=False)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


def counts(kindred) -> dict[str, int]:
    names = ("matching", "matching-bristol", "matching-elsewhere", "notifications")
    return {name: queue(name, kindred.redis).count for name in names}


def test_a_regions_worker_answers_its_members_and_nothing_else(app, kindred, verified_partner):
    in_bristol = verified_partner.post("/api/v1/listings", json=listing_body())
    online = verified_partner.post(
        "/api/v1/listings",
        json={**listing_body(title="Online garden talk"), "is_virtual": True, "lat": None,
              "lon": None, "area": None},
    )  # fmt: skip
    assert in_bristol.status_code == online.status_code == 201, online.json
    assert counts(kindred) == {
        "matching": 0,
        "matching-bristol": 1,  # the Bristol listing's fan-out
        "matching-elsewhere": 1,  # the virtual one's: no place, the default region
        "notifications": 0,
    }
    serve(kindred, "matching-bristol", "matching-elsewhere")

    ann = sign_up(app, **CONSENTING)  # lives in Bristol
    asked = ann.post("/api/v1/members/me/match-requests")
    assert asked.status_code == 202
    assert counts(kindred)["matching-bristol"] == 1
    serve(kindred, "matching-elsewhere")  # another region's worker leaves it alone
    assert counts(kindred)["matching-bristol"] == 1

    serve(kindred, "matching-bristol")
    assert ann.get(asked.headers["Location"]).json["status"] == "done"
    assert counts(kindred) == {
        "matching": 0,
        "matching-bristol": 0,
        "matching-elsewhere": 0,
        "notifications": 1,  # MatchesReady: notifications are not regional
    }
    serve(kindred, "notifications")
    assert sum(counts(kindred).values()) == 0
