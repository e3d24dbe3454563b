"""Find (or create) the organization that will own imported listings."""

from __future__ import annotations

from service.adapters.orm import Organization
from service.domain.credentials import Principal, Role
from service.domain.errors import NotFound
from service.services.unit_of_work import UnitOfWork


def owner_for_import(uow: UnitOfWork, name: str, create: bool) -> Principal:
    with uow:
        organization = uow.organizations.by_name(name)
        if organization is None:
            if not create:
                raise NotFound(f"no organization named {name!r}; pass --create-org to add it")
            # Imported data is unreviewed: the organization starts unverified.
            organization = Organization(name=name, contact_email="imports@kindred.invalid")
            uow.organizations.add(organization)
            uow.commit()
        return Principal(Role.PARTNER, organization.id)
