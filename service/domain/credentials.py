"""Bearer credentials: who is calling, and how secrets are made and stored.

Every secret is 256 random bits. Because it is random (not chosen by a person) a single SHA-256
is enough to store it safely: there is no dictionary to guess from. Passwords, which people choose,
use argon2 instead (see services.coordinators).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    MEMBER = "member"
    PARTNER = "partner"
    COORDINATOR = "coordinator"


# The prefix tells which table holds the hash, and lets secret scanners recognise a leaked key.
TOKEN_PREFIX = {Role.MEMBER: "km_", Role.PARTNER: "kp_", Role.COORDINATOR: "kc_"}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a role and the id of its member, organization or coordinator."""

    role: Role
    subject_id: int
    # A partner calls with one of its organization's keys; limits are counted per key.
    api_key_id: int | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """How logs and audit columns name the caller: an id, never a name or an email."""
        return (
            f"{'organization' if self.role is Role.PARTNER else self.role.value}:{self.subject_id}"
        )


@dataclass(frozen=True)
class IssuedSecret:
    """A secret shown once to its owner; only `hash` is stored."""

    plaintext: str
    hash: str

    @property
    def display_prefix(self) -> str:
        return self.plaintext[:10]


def issue_secret(role: Role) -> IssuedSecret:
    plaintext = TOKEN_PREFIX[role] + secrets.token_urlsafe(32)
    return IssuedSecret(plaintext=plaintext, hash=hash_secret(plaintext))


def hash_secret(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def role_of_token(token: str) -> Role | None:
    for role, prefix in TOKEN_PREFIX.items():
        if token.startswith(prefix):
            return role
    return None


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
