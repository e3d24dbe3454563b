"""One JSON error shape for every failure: {code, status, message, errors: {field: [...]}}."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, g, request
from werkzeug.exceptions import BadRequest, HTTPException, UnsupportedMediaType

from service.domain.errors import DomainError

log = logging.getLogger(__name__)

# webargs nests field errors under the place they came from ("json", "query"); callers care
# about the field, so the place is dropped.
LOCATIONS = ("json", "query", "headers", "files", "form", "path", "view_args", "querystring")
BODY_METHODS = ("POST", "PUT", "PATCH")


def flatten_errors(errors: dict) -> dict[str, list]:
    """{"json": {"weekly_slots": {0: {"day": [...]}}}} becomes {"weekly_slots[0].day": [...]}."""
    if errors and set(errors) <= set(LOCATIONS):
        merged: dict = {}
        for location_errors in errors.values():
            merged.update(
                location_errors if isinstance(location_errors, dict) else {"_body": location_errors}
            )
        errors = merged
    flat: dict[str, list] = {}
    _flatten_into(flat, "", errors)
    return flat


def _flatten_into(flat: dict, prefix: str, errors) -> None:
    if not isinstance(errors, dict):
        flat[prefix or "_body"] = errors if isinstance(errors, list) else [errors]
        return
    for key, value in errors.items():
        name = "_body" if key == "_schema" else str(key)
        if isinstance(key, int):
            path = f"{prefix}[{key}]"
        else:
            path = f"{prefix}.{name}" if prefix else name
        _flatten_into(flat, path, value)


def describe(errors: dict) -> str:
    fields = ", ".join(str(name) for name in errors)
    return f"invalid input in: {fields}" if fields else "invalid input"


class JsonErrorsMixin:
    def handle_http_exception(self, error: HTTPException):
        payload, code, headers = super().handle_http_exception(error)
        payload["errors"] = flatten_errors(payload.get("errors") or {})
        if "message" not in payload:
            payload["message"] = (
                describe(payload["errors"]) if payload["errors"] else error.description
            )
        if code >= 500:
            log.error(
                "unhandled error on %s %s",
                request.method,
                request.path,
                exc_info=getattr(error, "original_exception", None),
            )
        return payload, code, headers


def register_domain_errors(app: Flask, api) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        payload = {
            "code": error.status,
            "status": HTTPStatus(error.status).phrase,
            "message": error.message,
            "errors": error.errors,
        }
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
        if error.retry_after is not None:
            headers["Retry-After"] = g.retry_after = str(error.retry_after)
        return payload, error.status, headers

    @app.errorhandler(RecursionError)
    def handle_deep_json(error: RecursionError):
        # Only a body nested thousands of levels deep gets here; it is the client's problem.
        return api.handle_http_exception(BadRequest("the JSON body is nested too deeply"))

    @app.before_request
    def require_json_bodies():
        """A body kindred cannot read is refused, not silently ignored. (The web pages under
        /dashboard, /me and /partner post forms; this is for the JSON API.)"""
        if not request.path.startswith("/api/"):
            return
        has_body = request.content_length or request.headers.get("Transfer-Encoding")
        if request.method in BODY_METHODS and has_body and not request.is_json:
            raise UnsupportedMediaType("send the body as JSON (Content-Type: application/json)")
