"""Secrets: random, role-prefixed, stored only as a hash."""

from __future__ import annotations

import base64

from service.domain.credentials import (
    Principal,
    Role,
    hash_secret,
    issue_secret,
    role_of_token,
)


def test_secrets_carry_at_least_256_random_bits():
    secret = issue_secret(Role.PARTNER)
    body = secret.plaintext.removeprefix("kp_")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert len(raw) * 8 >= 256
    assert issue_secret(Role.PARTNER).plaintext != secret.plaintext


def test_only_the_hash_is_meant_for_storage():
    secret = issue_secret(Role.MEMBER)
    assert secret.hash == hash_secret(secret.plaintext)
    assert secret.plaintext not in secret.hash
    assert len(secret.hash) == 64
    assert secret.display_prefix == secret.plaintext[:10]


def test_role_is_read_from_the_prefix():
    for role in Role:
        assert role_of_token(issue_secret(role).plaintext) is role
    assert role_of_token("xx_something") is None


def test_principal_label_names_ids_not_people():
    assert Principal(Role.PARTNER, 3).label == "organization:3"
    assert Principal(Role.COORDINATOR, 1).label == "coordinator:1"
