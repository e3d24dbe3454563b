"""Browser-facing protection for the web pages: security headers (Flask-Talisman), CSRF tokens on
every form (Flask-WTF); and the abuse limits of the pages and the API (service/api/limits.py).

The JSON API is exempt from CSRF: it authenticates with bearer tokens, which a browser never
attaches on its own, so a forged cross-site request carries no credential.
"""

from __future__ import annotations

from flask import Flask
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect

from service.api import limits
from service.config import Settings

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
    limits.configure(app, settings.redis_url)
