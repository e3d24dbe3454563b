"""One JSON error shape for every failure: {code, status, message, errors: {field: [...]}}."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.exceptions import HTTPException

from service.domain.errors import DomainError

log = logging.getLogger(__name__)

# webargs nests field errors under the place they came from ("json", "query"); callers care
# about the field, so the place is dropped when only one place had errors.
LOCATIONS = ("json", "query", "headers", "files", "form", "path", "view_args")


def flatten_errors(errors: dict) -> dict:
    if errors and set(errors) <= set(LOCATIONS):
        flat: dict = {}
        for location_errors in errors.values():
            if isinstance(location_errors, dict):
                flat.update(location_errors)
            else:
                flat["_body"] = location_errors
        return flat
    return errors


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
            log.exception(
                "unhandled error",
                exc_info=error.original_exception if hasattr(error, "original_exception") else None,
            )
        return payload, code, headers


def register_domain_errors(app: Flask, api) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        status = {
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
            409: "Conflict",
            422: "Unprocessable Entity",
        }.get(error.status, "Bad Request")
        payload = {
            "code": error.status,
            "status": status,
            "message": error.message,
            "errors": error.errors,
        }
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
        return payload, error.status, headers
