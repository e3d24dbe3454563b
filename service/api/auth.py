"""The caller of the current request, from its bearer token."""

from __future__ import annotations

from flask import current_app, g, request

from service.domain.credentials import Principal
from service.services.auth import authenticate

BEARER_DOC = {"security": [{"bearerAuth": []}]}


def kindred():
    return current_app.extensions["kindred"]


def current_caller() -> Principal:
    if "caller" not in g:
        g.caller = authenticate(kindred().uow(), _bearer_token())
    return g.caller


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
