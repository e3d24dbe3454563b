"""Errors a use case raises. The API maps each to one HTTP status and one JSON shape."""

from __future__ import annotations


class DomainError(Exception):
    """Base: carries a human message and, optionally, errors per field."""

    status = 400

    def __init__(
        self,
        message: str,
        errors: dict[str, list[str]] | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.retry_after = retry_after  # seconds, when trying again later will work


class NotAuthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    """Also used for objects that exist but belong to someone else: their existence is private."""

    status = 404


class Conflict(DomainError):
    status = 409


class InvalidTransition(Conflict):
    """A listing cannot move from its current status to the one asked for."""


class RuleViolation(DomainError):
    """Input that is well-formed but breaks a rule (e.g. an in-person listing without a place)."""

    status = 422


class Unavailable(DomainError):
    """Something kindred needs is down for a moment: nothing was done, try again later."""

    status = 503
