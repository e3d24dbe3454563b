"""The caller of the current request, from its bearer token, checked before anything else."""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, request
from flask_smorest import Blueprint

from service.domain.credentials import Principal, Role
from service.services.auth import authenticate, require_role

# Path converter for ids: anything beyond a 32-bit id is simply not found (rather than an
# overflow deep in the database driver).
ID = "int(max=2147483647)"


def kindred():
    return current_app.extensions["kindred"]


def current_caller() -> Principal:
    if "caller" not in g:
        g.caller = authenticate(kindred().uow(), _bearer_token())
    return g.caller


def authenticated(*roles: Role):
    """Check the token (401) and the role (403) before the request body is even parsed.

    Place it directly under the route decorator, above @blp.arguments, so a caller without the
    right credentials learns nothing about what a valid body would look like. The use case checks
    ownership and roles again: this is the early gate, not the only one.
    """

    def decorator(view):
        @wraps(view)
        def checked(*args, **kwargs):
            caller = current_caller()
            if roles:
                require_role(caller, *roles)
            return view(*args, **kwargs)

        return Blueprint.doc(security=[{"bearerAuth": []}])(checked)

    return decorator


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
