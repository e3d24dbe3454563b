"""create_app: the only place Flask is assembled. Nothing connects until a request needs it."""

from __future__ import annotations

import logging

from flask import Flask

from service.api import register_api
from service.bootstrap import Kindred, bootstrap
from service.config import Settings


def create_app(settings: Settings | None = None, kindred: Kindred | None = None) -> Flask:
    kindred = kindred or bootstrap(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=kindred.settings.secret_key,
        MAX_CONTENT_LENGTH=kindred.settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    app.extensions["kindred"] = kindred
    logging.basicConfig(level=kindred.settings.log_level)
    register_api(app)
    return app
