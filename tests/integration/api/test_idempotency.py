"""Idempotency-Key on POST: a retry gets the first answer, another body with the key is refused,
concurrent requests with one key run once, and kept answers are unreadable in Redis."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from service.api.idempotency import HEADER, REPLAYED_HEADER
from service.app import create_app
from service.bootstrap import bootstrap
from tests.integration.api.conftest import Caller, listing_body, make_partner

KEY = "8a1f3a52-6c0e-4d0b-9a53-2f1f6f0e5d11"


def with_key(key: str = KEY) -> dict:
    return {HEADER: key}


def listing_count(kindred) -> int:
    from service.adapters.orm import Listing

    with kindred.uow() as uow:
        return uow.session.query(Listing).count()


def test_a_retry_with_the_same_key_and_body_gets_the_first_answer(verified_partner, kindred):
    first = verified_partner.post("/api/v1/listings", json=listing_body(), headers=with_key())
    again = verified_partner.post("/api/v1/listings", json=listing_body(), headers=with_key())
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER not in first.headers
    assert listing_count(kindred) == 1


def test_the_same_body_in_another_key_order_is_the_same_request(verified_partner, kindred):
    body = listing_body()
    reordered = dict(reversed(list(body.items())))
    verified_partner.post("/api/v1/listings", json=body, headers=with_key())
    again = verified_partner.post("/api/v1/listings", json=reordered, headers=with_key())
    assert again.headers[REPLAYED_HEADER] == "true"
    assert listing_count(kindred) == 1


def test_without_a_key_each_post_runs(verified_partner, kindred):
    verified_partner.post("/api/v1/listings", json=listing_body())
    verified_partner.post("/api/v1/listings", json=listing_body())
    assert listing_count(kindred) == 2


def test_the_same_key_with_another_body_is_refused(verified_partner, kindred):
    verified_partner.post("/api/v1/listings", json=listing_body(), headers=with_key())
    other = verified_partner.post(
        "/api/v1/listings", json=listing_body(title="Another club"), headers=with_key()
    )
    assert other.status_code == 422
    assert HEADER in other.json["errors"]
    assert listing_count(kindred) == 1


def test_keys_are_per_caller(verified_partner, coordinator, app, kindred):
    """Another partner sending the same key runs its own request and never sees the first
    answer."""
    other = make_partner(coordinator, app, "Hillside", verified=True)
    mine = verified_partner.post("/api/v1/listings", json=listing_body(), headers=with_key())
    theirs = other.post("/api/v1/listings", json=listing_body(), headers=with_key())
    assert theirs.status_code == 201
    assert REPLAYED_HEADER not in theirs.headers
    assert theirs.json["id"] != mine.json["id"]
    assert listing_count(kindred) == 2


def test_a_refused_request_is_not_kept(verified_partner, kindred):
    """Validation failed, nothing was done: the corrected request may use the same key."""
    refused = verified_partner.post(
        "/api/v1/listings", json=listing_body(capacity=-1), headers=with_key()
    )
    assert refused.status_code == 422
    corrected = verified_partner.post("/api/v1/listings", json=listing_body(), headers=with_key())
    assert corrected.status_code == 201
    assert REPLAYED_HEADER not in corrected.headers


def test_concurrent_requests_with_one_key_run_once(verified_partner, app, kindred):
    callers = 8
    start = threading.Barrier(callers)
    answers = []

    def send():
        caller = Caller(app.test_client(), verified_partner.token)
        start.wait()
        answers.append(caller.post("/api/v1/listings", json=listing_body(), headers=with_key()))

    threads = [threading.Thread(target=send) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == callers
    created = [a for a in answers if a.status_code == 201]
    busy = [a for a in answers if a.status_code == 409]
    assert len(created) + len(busy) == callers, [a.status_code for a in answers]
    assert len({a.json["id"] for a in created}) == 1
    assert sum(1 for a in created if REPLAYED_HEADER not in a.headers) == 1
    for answer in busy:
        assert answer.headers["Retry-After"] == "1", answer.headers
        assert HEADER in answer.json["errors"], answer.json
    assert listing_count(kindred) == 1


def test_a_replayed_sign_up_returns_the_same_token_and_redis_holds_it_encrypted(app, kindred):
    body = {"display_name": "Ann", "email": "ann.secret@example.org", "interests_text": "I knit"}
    first = app.test_client().post("/api/v1/members", json=body, headers=with_key())
    again = app.test_client().post("/api/v1/members", json=body, headers=with_key())
    assert first.status_code == again.status_code == 201
    assert again.json["token"] == first.json["token"]
    assert again.headers[REPLAYED_HEADER] == "true"

    stored = b"".join(
        kindred.redis.get(key) or b""
        for key in kindred.redis.scan_iter("kindred:idempotency:*")
        if kindred.redis.type(key) == b"string"
    )
    assert stored  # the answer is kept...
    for secret in (first.json["token"], "ann.secret@example.org", "I knit", KEY):
        assert secret.encode() not in stored  # ...but none of it is readable


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_a_key_must_be_1_to_255_characters(member, key):
    response = member.post("/api/v1/members/me/match-requests", headers=with_key(key))
    assert response.status_code == 422
    assert HEADER in response.json["errors"]


def test_without_redis_a_keyed_request_is_refused_and_an_unkeyed_one_runs(settings):
    kindred = bootstrap(dataclasses.replace(settings, redis_url="redis://127.0.0.1:9/0"))
    try:
        app = create_app(kindred=kindred)
        body = {"display_name": "Ann", "email": "ann@example.org"}
        keyed = app.test_client().post("/api/v1/members", json=body, headers=with_key())
        assert keyed.status_code == 503
        assert int(keyed.headers["Retry-After"]) > 0
        with kindred.uow() as uow:
            assert uow.members.by_email("ann@example.org") is None
        plain = app.test_client().post("/api/v1/members", json=body)
        assert plain.status_code == 201
    finally:
        kindred.close()


def test_every_post_route_takes_an_idempotency_key(app):
    """Generated from the route list: a new POST route documents the header or this fails."""
    spec = app.test_client().get("/openapi.json").json
    posts = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and "POST" in rule.methods
    )
    assert posts
    for rule in posts:
        path = rule.replace("<int(max=2147483647):", "{").replace(">", "}")
        parameters = spec["paths"][path]["post"].get("parameters", [])
        assert any(p.get("name") == HEADER and p["in"] == "header" for p in parameters), rule


def test_a_replayed_match_request_is_the_same_request(member):
    consents = {"matching": True, "peer_introductions": False}
    assert member.put("/api/v1/members/me/consents", json=consents).status_code == 200
    first = member.post("/api/v1/members/me/match-requests", headers=with_key())
    again = member.post("/api/v1/members/me/match-requests", headers=with_key())
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers[REPLAYED_HEADER] == "true"
