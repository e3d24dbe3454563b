"""Who is calling: turn a bearer token into a Principal, or refuse."""

from __future__ import annotations

from datetime import timedelta

from service.adapters.orm import utcnow
from service.domain.credentials import Principal, Role, hash_secret, role_of_token
from service.domain.errors import Forbidden, NotAuthenticated
from service.services.unit_of_work import UnitOfWork

# Writing last_used_at on every request would turn each read into a write; a minute is precise
# enough to tell a partner which key is still in use.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def authenticate(uow: UnitOfWork, token: str | None) -> Principal:
    if not token:
        raise NotAuthenticated("a bearer token is required: Authorization: Bearer <token>")
    role = role_of_token(token)
    secret_hash = hash_secret(token)
    with uow:
        principal = _lookup(uow, role, secret_hash)
        uow.commit()
    if principal is None:
        raise NotAuthenticated("this token is not valid or has been revoked")
    return principal


def _lookup(uow: UnitOfWork, role: Role | None, secret_hash: str) -> Principal | None:
    if role is Role.PARTNER:
        key = uow.organizations.key_by_hash(secret_hash)
        if key is None or key.revoked_at is not None:
            return None
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            key.last_used_at = now
        return Principal(Role.PARTNER, key.organization_id, api_key_id=key.id)
    if role is Role.MEMBER:
        member = uow.members.by_token_hash(secret_hash)
        return Principal(Role.MEMBER, member.id) if member else None
    if role is Role.COORDINATOR:
        coordinator = uow.coordinators.by_token_hash(secret_hash)
        return Principal(Role.COORDINATOR, coordinator.id) if coordinator else None
    return None


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = " or ".join(role.value for role in roles)
        raise Forbidden(f"this action is for a {allowed}, not a {principal.role.value}")
