"""Coordinator accounts: argon2 passwords and rotating API tokens."""

from __future__ import annotations

import pytest

from service.domain.errors import Conflict, NotAuthenticated
from service.services.auth import authenticate
from service.services.coordinators import check_password, create_coordinator, rotate_token


def test_password_is_hashed_with_argon2_and_checked(kindred):
    account = create_coordinator(kindred.uow(), "k@example.org", "K", "correct horse battery")
    assert account.coordinator.password_hash.startswith("$argon2")
    with kindred.uow() as uow:
        assert check_password(uow, "k@example.org", "correct horse battery").id
        with pytest.raises(NotAuthenticated):
            check_password(uow, "k@example.org", "wrong")
        with pytest.raises(NotAuthenticated):
            check_password(uow, "nobody@example.org", "correct horse battery")


def test_rotating_the_token_retires_the_old_one(kindred):
    first = create_coordinator(kindred.uow(), "r@example.org", "R", "a good passphrase")
    second = rotate_token(kindred.uow(), "r@example.org", "a good passphrase")
    assert authenticate(kindred.uow(), second.token).subject_id == first.coordinator.id
    with pytest.raises(NotAuthenticated):
        authenticate(kindred.uow(), first.token)


def test_emails_are_unique(kindred):
    create_coordinator(kindred.uow(), "u@example.org", "U", "passphrase one")
    with pytest.raises(Conflict):
        create_coordinator(kindred.uow(), "u@example.org", "U2", "passphrase two")
