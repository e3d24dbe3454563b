"""An API client and callers of every role, each with real credentials."""

from __future__ import annotations

import signal
from dataclasses import dataclass

import pytest

from service.app import create_app
from service.services.coordinators import create_coordinator
from workers.worker import build_worker


@dataclass
class Caller:
    """A client that sends one bearer token with every request."""

    client: object
    token: str | None

    def _headers(self, headers):
        merged = dict(headers or {})
        if self.token:
            merged.setdefault("Authorization", f"Bearer {self.token}")
        return merged

    def get(self, path, **kwargs):
        return self.client.get(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path, **kwargs):
        return self.client.post(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def patch(self, path, **kwargs):
        return self.client.patch(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def put(self, path, **kwargs):
        return self.client.put(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def delete(self, path, **kwargs):
        return self.client.delete(
            path, headers=self._headers(kwargs.pop("headers", None)), **kwargs
        )


@pytest.fixture
def app(kindred):
    app = create_app(kindred=kindred)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def anonymous(app) -> Caller:
    return Caller(app.test_client(), None)


@pytest.fixture
def coordinator(app, kindred) -> Caller:
    account = create_coordinator(kindred.uow(), "coord@example.org", "Coord", "a long password")
    return Caller(app.test_client(), account.token)


def make_partner(coordinator: Caller, app, name: str, verified: bool = False) -> Caller:
    response = coordinator.post(
        "/api/v1/organizations",
        json={
            "name": name,
            "contact_email": f"team@{name.lower().replace(' ', '')}.example",
            "verified": verified,
        },
    )
    assert response.status_code == 201, response.json
    caller = Caller(app.test_client(), response.json["api_key"]["secret"])
    caller.organization_id = response.json["organization"]["id"]
    return caller


@pytest.fixture
def partner(coordinator, app) -> Caller:
    return make_partner(coordinator, app, "Garden Friends")


@pytest.fixture
def verified_partner(coordinator, app) -> Caller:
    return make_partner(coordinator, app, "Trusted Walkers", verified=True)


@pytest.fixture
def other_partner(coordinator, app) -> Caller:
    return make_partner(coordinator, app, "Other Club")


def sign_up(app, email: str = "ann@example.org", **overrides) -> Caller:
    body = {
        "display_name": "Ann",
        "email": email,
        "interests": ["gardening"],
        "causes": ["environment"],
        "lat": 51.45,
        "lon": -2.59,
        **overrides,
    }
    response = app.test_client().post("/api/v1/members", json=body)
    assert response.status_code == 201, response.json
    caller = Caller(app.test_client(), response.json["token"])
    caller.member_id = response.json["id"]
    return caller


@pytest.fixture
def member(app) -> Caller:
    return sign_up(app)


@pytest.fixture
def other_member(app) -> Caller:
    return sign_up(app, email="bob@example.org", display_name="Bob")


def listing_body(**overrides) -> dict:
    body = {
        "kind": "club",
        "direction": "receive",
        "title": "Gentle garden club",
        "description": "We grow vegetables together.",
        "interests": ["Gardening", "food"],
        "causes": ["environment"],
        "lat": 51.455,
        "lon": -2.59,
        "area": "Easton",
        "weekly_slots": [{"day": "sat", "start": "10:00", "minutes": 90}],
        "group_size": "small",
        "structure": "structured",
        "pace": "low_key",
        "accessibility": ["step_free"],
        "capacity": 12,
    }
    body.update(overrides)
    return body


def run_worker(kindred) -> None:
    """kindred's RQ worker in burst mode: every queued job, as `kindred worker` runs them,
    then return.

    RQ installs its own SIGINT/SIGTERM handlers and leaves them behind; they are restored here,
    or a later Ctrl+C, or a forked test process told to stop (a multiprocessing pool), would run
    RQ's handler in the test process."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        build_worker(kindred.redis).work(burst=True, with_scheduler=False)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
