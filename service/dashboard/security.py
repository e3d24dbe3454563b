"""Browser-facing protection for the web pages: security headers (Flask-Talisman), CSRF tokens on
every form (Flask-WTF) and rate-limited sign-in (Flask-Limiter, counted in Redis so that every API
process shares the count).

The JSON API is exempt from CSRF: it authenticates with bearer tokens, which a browser never
attaches on its own, so a forged cross-site request carries no credential.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect

from service.config import Settings

log = logging.getLogger(__name__)

# No inline script or style anywhere: every script and stylesheet is a file kindred serves.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
SESSION_COOKIE = "kindred_session"

# Module level because views name it in their decorators; its storage is set per app below.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def login_limit() -> str:
    """Sign-in and sign-up attempts per address (KINDRED_LOGIN_RATE_LIMIT)."""
    return current_app.extensions["kindred"].settings.login_rate_limit


def limiter_storage_uri(redis_url: str) -> str:
    """Flask-Limiter's name for the Redis kindred uses. Without a URL (an embedded Redis this
    process has not started) counts stay in this process."""
    if redis_url.startswith("unix://"):
        return "redis+" + redis_url
    if redis_url.startswith(("redis://", "rediss://")):
        return redis_url
    log.warning("rate limits are counted per process: REDIS_URL names no server")
    return "memory://"


def protect(app: Flask, settings: Settings, api_blueprints: list[str]) -> None:
    app.config.update(
        # __Host- cookies must be Secure, for the whole site, and set by this host only.
        SESSION_COOKIE_NAME=("__Host-" if settings.secure_cookies else "") + SESSION_COOKIE,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session it belongs to
        # The token (and SameSite cookies) stop cross-site posts; a Referer check would refuse
        # every form, since pages send no Referer (Referrer-Policy: no-referrer).
        WTF_CSRF_SSL_STRICT=False,
        RATELIMIT_STORAGE_URI=limiter_storage_uri(settings.redis_url),
        RATELIMIT_KEY_PREFIX="kindred-limits",
    )
    # Headers and CSRF are set up per app (their settings live on the instance).
    Talisman(
        app,
        force_https=settings.force_https,
        strict_transport_security=True,  # sent on https responses only
        session_cookie_secure=settings.secure_cookies,
        session_cookie_http_only=True,
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        # Sign-in links carry a token in their path: it must never leave in a Referer header.
        referrer_policy="no-referrer",
        permissions_policy={"geolocation": "()", "camera": "()", "microphone": "()"},
    )
    csrf = CSRFProtect(app)
    for name in api_blueprints:
        csrf.exempt(app.blueprints[name])
    limiter.init_app(app)
