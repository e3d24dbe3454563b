"""Abuse limits: per API key, per member and per address, counted in the real Redis that every
process shares; 429 with Retry-After and the usual JSON error; configurable."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from service.app import create_app
from service.bootstrap import bootstrap
from tests.integration.api.conftest import Caller
from tests.integration.api.conftest import sign_up as sign_up_member

TIGHT = {"api_rate_limit": "3 per minute", "signup_rate_limit": "2 per hour"}


@pytest.fixture
def limited(settings):
    """The app with tight limits (what KINDRED_API_RATE_LIMIT and KINDRED_SIGNUP_RATE_LIMIT set)."""
    kindred = bootstrap(dataclasses.replace(settings, **TIGHT))
    kindred.redis.flushdb()
    app = create_app(kindred=kindred)
    app.config["TESTING"] = True
    yield app
    kindred.redis.flushdb()
    kindred.close()


def from_address(app, address: str, token: str | None = None) -> Caller:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return Caller(client, token)


def assert_limited(response) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert response.json["code"] == 429
    assert "3 per 1 minute" in response.json["message"]


def test_api_calls_are_counted_per_member(limited):
    ann = sign_up_member(limited, "ann@example.org")
    bob = sign_up_member(limited, "bob@example.org")
    for _ in range(3):
        assert ann.get("/api/v1/members/me").status_code == 200
    assert_limited(ann.get("/api/v1/members/me"))
    # Another route is no way around it: the limit is the member's, not the route's.
    assert_limited(ann.get("/api/v1/members/me/suggestions"))
    assert bob.get("/api/v1/members/me").status_code == 200


def test_api_calls_are_counted_per_api_key(limited, coordinator, partner):
    """Two keys of one organization: one used up, the other still works."""
    organization_id = partner.organization_id
    second = coordinator.post(f"/api/v1/organizations/{organization_id}/keys", json={})
    assert second.status_code == 201, second.json
    first_key = Caller(limited.test_client(), partner.token)
    second_key = Caller(limited.test_client(), second.json["secret"])

    for _ in range(3):
        assert first_key.get(f"/api/v1/organizations/{organization_id}").status_code == 200
    assert_limited(first_key.get(f"/api/v1/organizations/{organization_id}"))
    assert second_key.get(f"/api/v1/organizations/{organization_id}").status_code == 200


def test_calls_without_a_valid_token_are_counted_per_address(limited):
    guesser = from_address(limited, "203.0.113.7", token="km_not-a-real-token")
    for _ in range(3):
        assert guesser.get("/api/v1/members/me").status_code == 401
    assert_limited(guesser.get("/api/v1/members/me"))
    elsewhere = from_address(limited, "198.51.100.2", token="km_not-a-real-token")
    assert elsewhere.get("/api/v1/members/me").status_code == 401


def test_sign_ups_are_counted_per_address(limited):
    def join(caller: Caller, number: int):
        body = {"display_name": f"Person {number}", "email": f"p{number}@example.org"}
        return caller.post("/api/v1/members", json=body)

    library = from_address(limited, "192.0.2.10")
    assert join(library, 1).status_code == 201
    assert join(library, 2).status_code == 201
    refused = join(library, 3)
    assert refused.status_code == 429
    assert "2 per 1 hour" in refused.json["message"]
    assert int(refused.headers["Retry-After"]) > 0
    assert join(from_address(limited, "192.0.2.11"), 3).status_code == 201


def test_health_probes_are_not_limited(limited):
    probe = limited.test_client()
    assert all(probe.get("/healthz").status_code == 200 for _ in range(10))


def test_the_count_is_shared_with_another_process(limited, settings):
    """Two calls here and one in a separate Python process use up a limit of 3 together."""
    ann = sign_up_member(limited, "ann@example.org")
    assert ann.get("/api/v1/members/me").status_code == 200
    assert ann.get("/api/v1/members/me").status_code == 200

    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "KINDRED_VAR_DIR": str(settings.var_dir),
        "KINDRED_API_RATE_LIMIT": TIGHT["api_rate_limit"],
    }
    other_process = (
        "import sys\n"
        "from service.app import create_app\n"
        "client = create_app().test_client()\n"
        "headers = {'Authorization': 'Bearer ' + sys.argv[1]}\n"
        "print(client.get('/api/v1/members/me', headers=headers).status_code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", other_process, ann.token],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "200"
    assert_limited(ann.get("/api/v1/members/me"))


def test_counters_name_ids_never_emails(limited):
    ann = sign_up_member(limited, "ann.private@example.org")
    ann.get("/api/v1/members/me")
    redis = limited.extensions["kindred"].redis
    counters = [key.decode() for key in redis.scan_iter("*kindred-limits*")]
    assert any(f"member:{ann.member_id}" in key for key in counters), counters
    assert not any("example.org" in key for key in counters)


def test_limits_fall_back_to_memory_while_redis_is_down(settings):
    """Redis restarting must not turn every request into a 500: each process counts alone."""
    unreachable = dataclasses.replace(settings, redis_url="redis://127.0.0.1:9/0", **TIGHT)
    kindred = bootstrap(unreachable)
    try:
        app = create_app(kindred=kindred)
        ann = sign_up_member(app, "ann@example.org")
        assert ann.get("/api/v1/members/me").status_code == 200
    finally:
        kindred.close()


def test_the_join_page_shares_the_sign_up_limit(limited):
    """The form and the API are one door: two sign-ups through the API, the third on the page
    is refused, with a page (not JSON) and Retry-After."""
    from tests.integration.pages.conftest import PageClient, text_of
    from tests.integration.pages.test_member_pages import join_form

    for number in (1, 2):
        body = {"display_name": f"Person {number}", "email": f"p{number}@example.org"}
        assert limited.test_client().post("/api/v1/members", json=body).status_code == 201
    visitor = PageClient(limited)
    visitor.get("/me/join")
    refused = visitor.post("/me/join", join_form(email="p3@example.org"))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "text/html" in refused.headers["Content-Type"]
    assert "Too many" in text_of(refused)
