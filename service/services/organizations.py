"""Partner organizations and their API keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from service.adapters.orm import ApiKey, Organization, utcnow
from service.domain.credentials import Principal, Role, issue_secret
from service.domain.errors import Conflict, NotFound
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class NewKey:
    """A key as it is shown the one time its secret is known."""

    key: ApiKey
    secret: str

    def __getattr__(self, name: str):
        # Reads as the key itself (id, prefix, created_at...) plus its one-time secret.
        return getattr(self.key, name)


def create_organization(
    uow: UnitOfWork, caller: Principal, data: dict
) -> tuple[Organization, NewKey]:
    require_role(caller, Role.COORDINATOR)
    with uow:
        if uow.organizations.by_name(data["name"]):
            raise Conflict("an organization with this name exists", {"name": ["already taken"]})
        organization = Organization(**data)
        uow.organizations.add(organization)
        new_key = _add_key(organization, label="first key")
        _commit_unique(uow, "name")
        return organization, new_key


def get_organization(uow: UnitOfWork, caller: Principal, organization_id: int) -> Organization:
    with uow:
        return visible_organization(uow, caller, organization_id)


def list_organizations(uow: UnitOfWork, caller: Principal) -> list[Organization]:
    require_role(caller, Role.COORDINATOR)
    with uow:
        return uow.organizations.list()


def update_organization(
    uow: UnitOfWork, caller: Principal, organization_id: int, changes: dict
) -> Organization:
    with uow:
        organization = visible_organization(uow, caller, organization_id)
        if "verified" in changes:
            # Verification is a coordinator's judgement, never a partner's own claim.
            require_role(caller, Role.COORDINATOR)
        same_name = uow.organizations.by_name(changes.get("name", ""))
        if same_name is not None and same_name.id != organization.id:
            raise Conflict("an organization with this name exists", {"name": ["already taken"]})
        for name, value in changes.items():
            setattr(organization, name, value)
        _commit_unique(uow, "name")
        return organization


def list_keys(uow: UnitOfWork, caller: Principal, organization_id: int) -> list[ApiKey]:
    with uow:
        organization = visible_organization(uow, caller, organization_id)
        return sorted(organization.api_keys, key=lambda key: key.id)


def issue_key(
    uow: UnitOfWork, caller: Principal, organization_id: int, label: str | None
) -> NewKey:
    with uow:
        organization = visible_organization(uow, caller, organization_id)
        new_key = _add_key(organization, label)
        uow.commit()
        return new_key


def revoke_key(uow: UnitOfWork, caller: Principal, organization_id: int, key_id: int) -> None:
    with uow:
        visible_organization(uow, caller, organization_id)
        key = uow.organizations.key(organization_id, key_id)
        if key is None:
            raise NotFound("no such API key")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
        uow.commit()


def visible_organization(uow: UnitOfWork, caller: Principal, organization_id: int) -> Organization:
    """A coordinator sees every organization, a partner only its own; the rest is 404."""
    require_role(caller, Role.COORDINATOR, Role.PARTNER)
    organization = uow.organizations.get(organization_id)
    if organization is None or (
        caller.role is Role.PARTNER and caller.subject_id != organization_id
    ):
        raise NotFound("no such organization")
    return organization


def _add_key(organization: Organization, label: str | None) -> NewKey:
    secret = issue_secret(Role.PARTNER)
    key = ApiKey(label=label, prefix=secret.display_prefix, secret_hash=secret.hash)
    organization.api_keys.append(key)
    return NewKey(key=key, secret=secret.plaintext)


def _commit_unique(uow: UnitOfWork, field: str) -> None:
    """Commit; a unique index that a concurrent request beat us to becomes a 409, not a 500."""
    try:
        uow.commit()
    except IntegrityError as error:
        uow.session.rollback()
        raise Conflict(f"{field} is already taken", {field: ["already taken"]}) from error
