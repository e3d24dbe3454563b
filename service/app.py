"""create_app: the only place Flask is assembled. Nothing connects until a request needs it."""

from __future__ import annotations

import time

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from service.api import register_api
from service.bootstrap import Kindred, bootstrap
from service.config import Settings
from service.dashboard import register_pages
from service.observability import logs, web


def create_app(settings: Settings | None = None, kindred: Kindred | None = None) -> Flask:
    kindred = kindred or bootstrap(settings)
    # Templates and static files live with the pages; the app-level folder also lets kindred
    # override flask-smorest's Swagger UI page (its inline script would break the CSP).
    app = Flask(__name__, template_folder="dashboard/templates", static_folder="dashboard/static")
    app.config.update(
        SECRET_KEY=kindred.settings.secret_key,
        MAX_CONTENT_LENGTH=kindred.settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    app.extensions["kindred"] = kindred
    if kindred.settings.trusted_proxies:
        # Behind a proxy every request comes from its address: without this, one sign-in limit
        # would be shared by everyone, and https would look like http.
        hops = kindred.settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    logs.configure(kindred.settings.log_level)
    # First, so its timing and request id wrap every other hook of the request.
    web.init_app(app)
    app.extensions["kindred_started"] = time.monotonic()  # the scheduler's grace (readyz)
    api = register_api(app)
    register_pages(app, api, api_blueprints=list(app.blueprints))
    return app
