"""Idempotency-Key on POST: a client that retries after a lost answer gets the first answer back,
instead of a second listing, sign-up or API key (draft-ietf-httpapi-idempotency-key-header).

For one caller, path and key:
- the same body again replays the first answer, marked `Idempotent-Replayed: true`;
- another body is refused (422, naming the header): a key is for one request only;
- while the first request still runs, others are refused (409, Retry-After): it runs once;
- an error answer (a 4xx raised by validation or a rule, a 5xx) is not kept: the request was not
  carried out, and a retry with the same key runs it again.

Answers are kept in Redis for 24 hours, encrypted with a key derived from SECRET_KEY and the
client's Idempotency-Key: an answer can hold a new member token or API key, and whoever reads
Redis (or its backups) without the client's key reads nothing. Erasing a member removes theirs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import wraps

import redis
from cryptography.fernet import Fernet
from flask import Response, g, make_response, request
from flask_smorest import Blueprint

from service.adapters.redis_traces import IDEMPOTENCY_PREFIX, answers_index
from service.api.auth import current_caller, kindred
from service.domain.errors import Conflict, NotAuthenticated, RuleViolation, Unavailable

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEEP_ANSWER_SECONDS = 24 * 3600
# A process that dies mid-request holds its key this long at most; then a retry runs again.
RUNNING_SECONDS = 60
# What a replay needs besides the body; other headers (rate limits, security) are the replay's own.
KEPT_HEADERS = ("Content-Type", "Location")

PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    "description": "A unique value (e.g. a UUID) per request: a retry with the same key and body "
    "gets the first answer back (`Idempotent-Replayed: true`) instead of running twice. Kept "
    "24 hours. The same key with another body is 422; while the first still runs, 409.",
}


def idempotent(view):
    """Honour Idempotency-Key on this POST view. Place it under @authenticated (the caller is
    part of the key's scope) and above @blp.arguments."""

    @wraps(view)
    def once(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        store = AnswerStore(kindred().redis, kindred().settings.secret_key)
        slot = store.slot(_scope(), _checked(key))
        fingerprint = _fingerprint()
        earlier = store.claim(slot, fingerprint)
        if earlier is not None:
            return _replay(slot, earlier, fingerprint)
        try:
            response = make_response(view(*args, **kwargs))
        except BaseException:
            store.release(slot)
            raise
        if response.status_code >= 400:
            store.release(slot)
        else:
            owners = {_scope(), *g.get("answer_owners", ())}
            store.keep(slot, fingerprint, response, {o for o in owners if "address:" not in o})
        return response

    return Blueprint.doc(parameters=[PARAMETER])(once)


def answer_belongs_to(owner: str) -> None:
    """Index this request's kept answer under `owner` too ("member:5"), so erasing that member
    removes it (a sign-up is made by an address, and its answer holds the new member's token)."""
    g.answer_owners = (*g.get("answer_owners", ()), owner)


@dataclass(frozen=True)
class Slot:
    name: str  # the Redis key: an HMAC, so neither the caller nor the key can be read from it
    cipher: Fernet


class AnswerStore:
    def __init__(self, connection: redis.Redis, secret_key: str):
        self._redis = connection
        self._secret = secret_key.encode()

    def slot(self, scope: str, key: str) -> Slot:
        request_id = f"{scope}\n{request.method}\n{request.path}\n{key}"
        name = hmac.new(self._secret, b"slot\n" + request_id.encode(), hashlib.sha256)
        secret = hmac.new(self._secret, b"answer\n" + request_id.encode(), hashlib.sha256)
        cipher = Fernet(base64.urlsafe_b64encode(secret.digest()))
        return Slot(f"{IDEMPOTENCY_PREFIX}:{name.hexdigest()}", cipher)

    def claim(self, slot: Slot, fingerprint: str) -> dict | None:
        """None when this request may run; else what an earlier one with the key left."""
        running = json.dumps({"state": "running", "fingerprint": fingerprint})
        try:
            if self._redis.set(slot.name, running, nx=True, ex=RUNNING_SECONDS):
                return None
            earlier = self._redis.get(slot.name)
        except redis.RedisError as error:
            # Without Redis a retry could not be recognised: refuse rather than risk twice.
            raise Unavailable(
                "requests with an Idempotency-Key cannot be taken just now: retry shortly",
                retry_after=5,
            ) from error
        # Expired between the two calls: the earlier one is over, and was not kept.
        return json.loads(earlier) if earlier else {"state": "running", "fingerprint": fingerprint}

    def keep(self, slot: Slot, fingerprint: str, response: Response, owners: set[str]) -> None:
        answer = {
            "state": "done",
            "fingerprint": fingerprint,
            "status": response.status_code,
            "headers": {
                name: response.headers[name] for name in KEPT_HEADERS if name in response.headers
            },
            "body": slot.cipher.encrypt(response.get_data()).decode(),
        }
        # Without Redis the request is still done; only a replay is lost (after RUNNING_SECONDS a
        # retry runs again).
        with contextlib.suppress(redis.RedisError):
            pipe = self._redis.pipeline()
            pipe.set(slot.name, json.dumps(answer), ex=KEEP_ANSWER_SECONDS)
            for owner in owners:
                pipe.sadd(answers_index(owner), slot.name)
                pipe.expire(answers_index(owner), KEEP_ANSWER_SECONDS)
            pipe.execute()

    def release(self, slot: Slot) -> None:
        # Without Redis it expires by itself after RUNNING_SECONDS.
        with contextlib.suppress(redis.RedisError):
            self._redis.delete(slot.name)


def _replay(slot: Slot, earlier: dict, fingerprint: str) -> Response:
    if earlier["fingerprint"] != fingerprint:
        raise RuleViolation(
            "this Idempotency-Key was used for another request",
            {HEADER: ["already used with a different body: send a new key for a new request"]},
        )
    if earlier["state"] != "done":
        raise Conflict(
            "a request with this Idempotency-Key is still running: retry shortly",
            {HEADER: ["in use by a request that has not finished"]},
            retry_after=1,
        )
    response = Response(
        slot.cipher.decrypt(earlier["body"].encode()),
        status=earlier["status"],
        headers=earlier["headers"],
    )
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _scope() -> str:
    """Whose keys these are: the caller, or the address of an anonymous one (a sign-up)."""
    try:
        return current_caller().label
    except NotAuthenticated:
        return f"address:{request.remote_addr}"


def _checked(key: str) -> str:
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise RuleViolation(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters",
            {HEADER: [f"must be 1 to {MAX_KEY_LENGTH} characters, e.g. a UUID"]},
        )
    return key


def _fingerprint() -> str:
    """The request's content: the JSON body with its keys sorted (so a client re-serialising the
    same object is the same request), or the raw bytes; and the query string."""
    body = request.get_json(silent=True)
    content = (
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        if body is not None
        else request.get_data()
    )
    digest = hashlib.sha256(content)
    digest.update(b"\n" + request.query_string)
    return digest.hexdigest()
