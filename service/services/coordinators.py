"""Coordinator accounts: a password for the dashboard, a bearer token for the API."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from service.adapters.orm import Coordinator
from service.domain.credentials import Role, issue_secret
from service.domain.errors import Conflict, NotAuthenticated
from service.services.unit_of_work import UnitOfWork

_hasher = PasswordHasher()
# Checked against when the email is unknown, so a wrong email costs as long as a wrong password
# and response time does not tell which coordinator accounts exist.
_UNKNOWN_ACCOUNT_HASH = _hasher.hash("no such coordinator")


@dataclass(frozen=True)
class CoordinatorAccount:
    coordinator: Coordinator
    token: str


def create_coordinator(
    uow: UnitOfWork, email: str, display_name: str, password: str
) -> CoordinatorAccount:
    secret = issue_secret(Role.COORDINATOR)
    email = email.strip().lower()  # the sign-in form lower-cases what is typed
    with uow:
        if uow.coordinators.by_email(email):
            raise Conflict(
                "a coordinator with this email exists", {"email": ["already registered"]}
            )
        coordinator = Coordinator(
            email=email,
            display_name=display_name,
            password_hash=_hasher.hash(password),
            token_hash=secret.hash,
        )
        uow.coordinators.add(coordinator)
        uow.commit()
        return CoordinatorAccount(coordinator=coordinator, token=secret.plaintext)


def rotate_token(uow: UnitOfWork, email: str, password: str) -> CoordinatorAccount:
    """A new API token for a coordinator who proves their password; the old token stops working."""
    secret = issue_secret(Role.COORDINATOR)
    with uow:
        coordinator = check_password(uow, email, password)
        coordinator.token_hash = secret.hash
        uow.commit()
        return CoordinatorAccount(coordinator=coordinator, token=secret.plaintext)


def check_password(uow: UnitOfWork, email: str, password: str) -> Coordinator:
    coordinator = uow.coordinators.by_email(email.strip().lower())
    stored_hash = coordinator.password_hash if coordinator else _UNKNOWN_ACCOUNT_HASH
    try:
        _hasher.verify(stored_hash, password)
        if coordinator is None:
            raise VerificationError
    except VerificationError as error:
        raise NotAuthenticated("wrong email or password") from error
    return coordinator


def verify_login(uow: UnitOfWork, email: str, password: str) -> int:
    """The id of the coordinator with this email and password (dashboard sign-in)."""
    with uow:
        return check_password(uow, email, password).id
