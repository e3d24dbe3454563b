"""Abuse limits (Flask-Limiter), counted in Redis so every process on every machine shares them.

- Every API call, per credential: a partner's API key, a member, a coordinator; per address for
  calls without a valid one (KINDRED_API_RATE_LIMIT).
- Sign-ups, on the API and the join page, per address (KINDRED_SIGNUP_RATE_LIMIT).
- Sign-in forms per address (KINDRED_LOGIN_RATE_LIMIT). Not per account: anyone could then lock
  a coordinator out by failing ten times; passwords are long and argon2-hashed instead.

A refused request is 429 with Retry-After (JSON on the API, a page on the web). If Redis cannot be
reached, each process counts in its own memory until it is back, rather than refusing everyone.
Counters are keyed by ids and hashes, never by an email.
"""

from __future__ import annotations

import logging

from flask import current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from service.adapters.redis_traces import RATE_LIMIT_PREFIX
from service.domain.errors import NotAuthenticated

log = logging.getLogger(__name__)


# Module level because views name it in their decorators; its storage is set per app (configure).
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def configure(app, redis_url: str) -> None:
    app.config.update(
        RATELIMIT_STORAGE_URI=limiter_storage_uri(redis_url),
        RATELIMIT_KEY_PREFIX=RATE_LIMIT_PREFIX,
        # Redis down (a restart, a failover): count in memory meanwhile instead of a 500.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    )
    app.after_request(keep_own_retry_after)  # registered first, so it runs after the limiter's
    limiter.init_app(app)
    # The limiter is shared by every app in the process (views name it at import). A new app
    # has a new storage: presume it alive, or one app that lost Redis would leave every later
    # one counting in memory (Flask-Limiter keeps this flag across init_app).
    limiter._storage_dead = False


def keep_own_retry_after(response):
    """Flask-Limiter writes its window's reset into Retry-After on every answer. Only a 429 should
    carry that; an answer that set its own (409 "still running", 503) keeps its own value."""
    if response.status_code != 429:
        own = g.get("retry_after")
        if own is None:
            response.headers.pop("Retry-After", None)
        else:
            response.headers["Retry-After"] = str(own)
    return response


def limiter_storage_uri(redis_url: str) -> str:
    """Flask-Limiter's name for the Redis kindred uses. Without a URL (an embedded Redis this
    process has not started) counts stay in this process."""
    if redis_url.startswith("unix://"):
        return "redis+" + redis_url
    if redis_url.startswith(("redis://", "rediss://")):
        return redis_url
    log.warning("rate limits are counted per process: REDIS_URL names no server")
    return "memory://"


def _settings():
    return current_app.extensions["kindred"].settings


def login_limit() -> str:
    return _settings().login_rate_limit


def signup_limit() -> str:
    return _settings().signup_rate_limit


def sign_ups():
    """The decorator for every way to sign up (the API, the join page): one count per address."""
    return limiter.shared_limit(
        signup_limit, scope="sign-up", methods=["POST"], override_defaults=False
    )


def api_limit() -> str:
    return _settings().api_rate_limit


def credential_or_address() -> str:
    """Whose calls count together: one API key, one member, one coordinator; else the address.
    An invalid token counts against its address (the view then answers 401)."""
    from service.api.auth import current_caller

    try:
        caller = current_caller()
    except NotAuthenticated:
        return f"address:{get_remote_address()}"
    if caller.api_key_id is not None:
        return f"api-key:{caller.api_key_id}"
    return caller.label
