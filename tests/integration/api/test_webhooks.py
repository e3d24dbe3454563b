"""Partner webhooks: registration with SSRF checks, signed deliveries to a real HTTP server on
loopback, retries into a visible dead letter, and 410 Gone switching an endpoint off."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa

from service.adapters.orm import JobFailure, WebhookDelivery
from tests.integration.api.conftest import listing_body, run_worker, sign_up
from workers import context
from workers.scheduler import build_scheduler

CONSENTING = {"consents": {"matching": True, "peer_introductions": False}}


class Receiver:
    """A partner's server: answers `status` and keeps what it was sent."""

    def __init__(self, status: int = 204):
        self.status, self.received = status, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/kindred"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    made = []

    def make(status: int = 204) -> Receiver:
        made.append(Receiver(status))
        return made[-1]

    yield make
    for server in made:
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture
def local_targets_allowed(kindred):
    """Loopback stands in for the partner's server, so only these tests allow private targets."""
    kindred.settings = dataclasses.replace(kindred.settings, webhook_allow_private=True)
    context.use(kindred)


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """An independent check of the signature, as a partner would write it."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return headers["webhook-signature"] == f"v1,{expected}"


def a_member_says_yes(app, kindred, verified_partner) -> int:
    listing = verified_partner.post("/api/v1/listings", json=listing_body()).json["id"]
    run_worker(kindred)  # the listing's fan-out, before anyone signed up
    member = sign_up(app, email="yes@example.org", **CONSENTING)
    member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    (suggestion,) = member.get("/api/v1/members/me/suggestions").json["groups"]
    path = f"/api/v1/suggestions/{suggestion['id']}/response"
    assert member.post(path, json={"answer": "yes"}).status_code == 200
    return listing


def webhooks_path(partner) -> str:
    return f"/api/v1/organizations/{partner.organization_id}/webhooks"


def register(partner, url: str):
    return partner.post(webhooks_path(partner), json={"url": url})


def deliveries(kindred):
    with kindred.uow() as uow:
        return uow.session.scalars(sa.select(WebhookDelivery)).all()


def test_internal_urls_are_refused_at_registration(verified_partner):
    for url in ("http://127.0.0.1:8080/hook", "https://169.254.169.254/x", "https://10.1.2.3/x"):
        response = register(verified_partner, url)
        assert response.status_code == 422 and "url" in response.json["errors"], url


def test_a_yes_reaches_the_partner_signed_and_without_personal_data(
    app, kindred, verified_partner, receiver, local_targets_allowed
):
    partner_server = receiver()
    created = register(verified_partner, partner_server.url)
    assert created.status_code == 201
    secret = created.json["secret"]
    listed = verified_partner.get(webhooks_path(verified_partner))
    assert "secret" not in listed.json[0]

    listing = a_member_says_yes(app, kindred, verified_partner)
    run_worker(kindred)

    ((headers, body),) = partner_server.received
    headers = {k.lower(): v for k, v in headers.items()}
    assert verify(secret, headers, body)
    sent = json.loads(body)
    assert sent["type"] == "listing.interest"
    assert sent["data"] == {"listing_id": listing, "answer": "yes"}
    assert sent["id"] == headers["webhook-id"]
    assert "yes@example.org" not in body.decode()
    assert [(d.status, d.attempts) for d in deliveries(kindred)] == [("sent", 1)]


def test_a_failing_endpoint_is_retried_then_dead_lettered(
    app, kindred, verified_partner, receiver, local_targets_allowed, monkeypatch
):
    monkeypatch.setattr("service.adapters.publisher.RETRIES", 1)
    monkeypatch.setattr("service.adapters.publisher.FIRST_RETRY_SECONDS", 1)
    broken = receiver(500)
    register(verified_partner, broken.url)
    a_member_says_yes(app, kindred, verified_partner)
    run_worker(kindred)
    time.sleep(1.5)
    build_scheduler(kindred.redis).enqueue_jobs()  # the retry's wait is over
    run_worker(kindred)

    assert len(broken.received) == 2
    assert len({h["webhook-id"] for h, _ in broken.received}) == 1  # same id on every attempt
    (delivery,) = deliveries(kindred)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 2, 500)
    with kindred.uow() as uow:
        (failure,) = uow.session.scalars(sa.select(JobFailure)).all()
    assert "webhook answered 500" in failure.error


def test_410_gone_switches_the_endpoint_off(
    app, kindred, verified_partner, receiver, local_targets_allowed
):
    retired = receiver(410)
    register(verified_partner, retired.url)
    a_member_says_yes(app, kindred, verified_partner)
    run_worker(kindred)
    listed = verified_partner.get(webhooks_path(verified_partner))
    assert listed.json[0]["active"] is False and "410" in listed.json[0]["disabled_reason"]
    assert len(retired.received) == 1  # not retried
