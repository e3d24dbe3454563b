"""The HTTP API: flask-smorest blueprints under /api/v1, one module per resource."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from service.api import (
    checkins,
    errors,
    health,
    keep_in_touch,
    listings,
    matches,
    members,
    organizations,
    reports,
)
from service.api.docs import docs_assets
from service.api.limits import api_limit, credential_or_address, limiter

RESOURCES = (organizations, listings, members, matches, keep_in_touch, checkins, reports)


class KindredApi(errors.JsonErrorsMixin, Api):
    """flask-smorest's Api with kindred's single JSON error shape."""


def register_api(app: Flask) -> KindredApi:
    app.config.update(
        API_TITLE="kindred",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Served by kindred itself: the docs page must work offline (no CDN).
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Partner, member and coordinator API of kindred. "
                "Send `Authorization: Bearer <token>`; tokens start with kp_ (partner key), "
                "km_ (member) or kc_ (coordinator).",
            },
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )
    api = KindredApi(app)
    for module in (health, *RESOURCES):
        api.register_blueprint(module.blp)
    app.register_blueprint(docs_assets)
    errors.register_domain_errors(app, api)
    return api


# Once, at import: blueprints are shared by every app this process creates (tests make many).
# One count per caller across every resource (a shared scope), so spreading calls over routes
# gains nothing. Health probes are not limited: an orchestrator polls them.
for _module in RESOURCES:
    limiter.shared_limit(api_limit, scope="api", key_func=credential_or_address)(_module.blp)
