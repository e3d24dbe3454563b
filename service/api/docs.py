"""Swagger UI assets from the swagger-ui-bundle package, so /docs works without a CDN."""

from __future__ import annotations

import swagger_ui_bundle
from flask import Blueprint, send_from_directory

docs_assets = Blueprint("docs_assets", __name__)


@docs_assets.get("/docs/assets/<path:filename>")
def asset(filename: str):
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
