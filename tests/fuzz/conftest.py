"""A populated kindred for schemathesis: callers of every role and real rows to aim path ids at.

The callers and the app come from tests/integration/api/conftest.py; what is added here is a
World that knows every role's current token (re-issued when a fuzzed request revokes or erases
it) and the ids of real objects for each path parameter of the OpenAPI document.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from service.adapters.orm import FollowUp, Introduction, Notification, Suggestion, utcnow
from service.app import create_app
from service.config import Settings
from service.domain.vocabulary import IntroductionStatus, SuggestionKind
from service.services import members
from tests.integration.api import conftest as api_fixtures
from tests.integration.api.conftest import Caller, listing_body, sign_up
from tests.support import group_suggestion

# The API tests' fixtures, shared here under their own names.
app = api_fixtures.app
coordinator = api_fixtures.coordinator
partner = api_fixtures.partner
other_partner = api_fixtures.other_partner

ROLES = ("member", "partner", "coordinator")
# The one host name a fuzzed webhook URL may resolve (to a public address); every other name
# fails as an unknown host, so no run ever depends on, or sends anything to, the network.
WEBHOOK_HOST = "hooks.garden.example"
PUBLIC_ADDRESS = "93.184.215.14"


# Examples per operation and role in `make test` (about a minute on SQLite, 2 cores).
DEFAULT_EXAMPLES = 10


def fuzz_examples() -> int:
    """Examples per operation and role: KINDRED_FUZZ_EXAMPLES (make fuzz sets it high)."""
    return int(os.environ.get("KINDRED_FUZZ_EXAMPLES") or DEFAULT_EXAMPLES)


@functools.cache
def openapi_document() -> dict:
    """The OpenAPI document, read at collection time from an app that never connects."""
    with tempfile.TemporaryDirectory() as var_dir:
        settings = Settings(
            database_url="sqlite://",
            redis_url="redis://127.0.0.1:1/0",
            secret_key="collection-only",
            var_dir=Path(var_dir),
        )
        return create_app(settings).test_client().get("/openapi.json").get_json()


def offline_getaddrinfo(real):
    """getaddrinfo that knows WEBHOOK_HOST, reads IP literals, and resolves nothing else."""

    def getaddrinfo(host, port, *args, **kwargs):
        if host == WEBHOOK_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_ADDRESS, port))]
        kwargs["flags"] = kwargs.get("flags", 0) | socket.AI_NUMERICHOST
        return real(host, port, *args, **kwargs)

    return getaddrinfo


@dataclass
class World:
    app: object
    kindred: object
    callers: dict[str, Caller]
    organization_id: int
    # Real ids per path parameter name, e.g. {"listing_id": [1, 2, 3]}.
    path_ids: dict[str, list[int]] = field(default_factory=dict)
    requests: int = 0

    def token(self, role: str) -> str:
        return self.callers[role].token

    def authorization(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}

    def restore_credentials(self) -> None:
        """A fuzzed DELETE may erase the member or revoke the partner's key; later examples
        need valid credentials again, so a lost one is replaced (by the use cases, not the API,
        so that the sign-up limit is not spent)."""
        self.requests += 2
        if self.callers["member"].get("/api/v1/members/me").status_code == 401:
            replacement = members.sign_up(
                self.kindred.uow(),
                {
                    "display_name": "Fuzz",
                    "email": f"fuzz{self.requests}@example.org",
                    "consents": {"matching": True, "peer_introductions": True},
                },
            )
            self.callers["member"] = Caller(self.app.test_client(), replacement.token)
        path = f"/api/v1/organizations/{self.organization_id}"
        if self.callers["partner"].get(path).status_code == 401:
            self.requests += 1
            issued = self.callers["coordinator"].post(f"{path}/keys", json={"label": "fuzz"})
            assert issued.status_code == 201, issued.json
            self.callers["partner"] = Caller(self.app.test_client(), issued.json["secret"])


@pytest.fixture
def settings(settings):
    """No abuse limits here: thousands of fuzzed calls per credential are the point (the
    limits have tests of their own)."""
    unlimited = {"api_rate_limit": "1000000 per minute", "signup_rate_limit": "1000000 per minute"}
    names = {f.name for f in dataclasses.fields(settings)}
    return dataclasses.replace(settings, **{k: v for k, v in unlimited.items() if k in names})


@pytest.fixture
def world(app, kindred, coordinator, partner, other_partner, monkeypatch) -> World:
    """Two organizations (the partner's and another), listings in several states, a spare API
    key, a webhook, a match request, group and peer suggestions, a notification and an
    introduction: every path parameter has real rows to hit."""
    monkeypatch.setattr(socket, "getaddrinfo", offline_getaddrinfo(socket.getaddrinfo))
    consents = {"matching": True, "peer_introductions": True}
    member = sign_up(app, consents={**consents, "connection_checkin": True})
    peer = sign_up(app, email="bob@example.org", display_name="Bob", consents=consents)
    organization_id = partner.organization_id

    def created(response) -> int:
        assert response.status_code in (201, 202), response.json
        return response.json["id"]

    active = created(partner.post("/api/v1/listings", json=listing_body()))
    approved = coordinator.post(f"/api/v1/listings/{active}/review", json={"decision": "approve"})
    assert approved.status_code == 200, approved.json
    pending = created(partner.post("/api/v1/listings", json=listing_body(title="Seed swap")))
    elsewhere = created(other_partner.post("/api/v1/listings", json=listing_body(title="Chess")))
    spare_key = created(
        partner.post(f"/api/v1/organizations/{organization_id}/keys", json={"label": "spare"})
    )
    webhook = partner.post(
        f"/api/v1/organizations/{organization_id}/webhooks",
        json={"url": f"https://{WEBHOOK_HOST}/kindred"},
    )
    assert webhook.status_code == 201, webhook.json
    match_request = created(member.post("/api/v1/members/me/match-requests"))

    # What the matching and notification workers would have written.
    with kindred.uow() as uow:
        group = group_suggestion(
            member.member_id,
            active,
            "2026-W27",
            reasons=["You both care about the environment"],
        )
        peer_suggestion = Suggestion(
            member_id=member.member_id,
            kind=SuggestionKind.PEER,
            target=f"member:{peer.member_id}",
            peer_id=peer.member_id,
            cycle="2026-W27",
            score=0.7,
            reasons=["You both enjoy gardening"],
        )
        notification = Notification(
            member_id=member.member_id,
            kind="matches_ready",
            subject=f"match_request:{match_request}",
            cycle="2026-W27",
            title="New suggestions",
            body="Two groups near you.",
            link="/me",
        )
        low, high = sorted((member.member_id, peer.member_id))
        introduction = Introduction(
            member_low_id=low,
            member_high_id=high,
            status=IntroductionStatus.INTRODUCED,
            introduced_at=utcnow(),
        )
        uow.session.add_all([group, peer_suggestion, notification, introduction])
        uow.flush()
        follow_up = FollowUp(
            member_id=member.member_id,
            subject=f"introduction:{introduction.id}",
            introduction_id=introduction.id,
            step=1,
            due_on=utcnow().date(),
            delivered_by="notification",
        )
        uow.session.add(follow_up)
        uow.commit()
        suggestion_ids = [group.id, peer_suggestion.id]
        notification_id = notification.id
        follow_up_id = follow_up.id

    return World(
        app=app,
        kindred=kindred,
        callers={"member": member, "partner": partner, "coordinator": coordinator},
        organization_id=organization_id,
        path_ids={
            "organization_id": [organization_id, other_partner.organization_id],
            "listing_id": [active, pending, elsewhere],
            "key_id": [spare_key],
            "webhook_id": [webhook.json["webhook"]["id"]],
            "request_id": [match_request],
            "suggestion_id": suggestion_ids,
            "notification_id": [notification_id],
            "follow_up_id": [follow_up_id],
        },
    )


def pytest_terminal_summary(terminalreporter):
    from tests.fuzz.test_openapi_fuzz import STATUSES, TOTALS

    if TOTALS["pairs"]:
        terminalreporter.write_line(
            f"fuzz: {TOTALS['pairs']} operation-role pairs, {TOTALS['examples']} examples, "
            f"{TOTALS['requests']} requests (examples per pair: {fuzz_examples()})"
        )
        if os.environ.get("KINDRED_FUZZ_STATUSES"):
            for (label, role, status), count in sorted(STATUSES.items()):
                terminalreporter.write_line(f"  {label} as {role}: {status} x{count}")
