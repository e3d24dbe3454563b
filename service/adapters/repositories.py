"""Repositories: the only place that knows how rows are found. Services speak to these."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.adapters.orm import (
    ApiKey,
    Coordinator,
    Listing,
    ListingTag,
    Member,
    Organization,
    Suggestion,
)
from service.domain.vocabulary import ListingStatus, SuggestionKind, SuggestionStatus

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class ListingFilter:
    kind: str | None = None
    direction: str | None = None
    cause: str | None = None
    tag: str | None = None
    statuses: tuple[ListingStatus, ...] | None = None
    organization_id: int | None = None
    is_virtual: bool | None = None
    near: tuple[float, float, float] | None = None  # lat, lon, km


def haversine_km_sql(lat_column, lon_column, lat: float, lon: float):
    """Great-circle distance as a SQL expression (same text on PostgreSQL and SQLite)."""
    dlat = sa.func.radians(lat_column - lat) / 2
    dlon = sa.func.radians(lon_column - lon) / 2
    a = sa.func.sin(dlat) * sa.func.sin(dlat) + sa.func.cos(sa.func.radians(lat)) * sa.func.cos(
        sa.func.radians(lat_column)
    ) * sa.func.sin(dlon) * sa.func.sin(dlon)
    return 2 * EARTH_RADIUS_KM * sa.func.asin(sa.func.sqrt(a))


def bounding_box(lat: float, lon: float, km: float) -> tuple[float, float, float, float]:
    """A box around the circle, so the lat/lon index discards most rows before the exact test."""
    import math

    dlat = math.degrees(km / EARTH_RADIUS_KM)
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = min(180.0, math.degrees(km / (EARTH_RADIUS_KM * cos_lat)))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


class OrganizationRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, organization: Organization) -> None:
        self.session.add(organization)

    def get(self, organization_id: int) -> Organization | None:
        return self.session.get(Organization, organization_id)

    def by_name(self, name: str) -> Organization | None:
        return self.session.scalar(
            sa.select(Organization).where(sa.func.lower(Organization.name) == name.lower())
        )

    def list(self) -> list[Organization]:
        return list(self.session.scalars(sa.select(Organization).order_by(Organization.id)))

    def key_by_hash(self, secret_hash: str) -> ApiKey | None:
        return self.session.scalar(sa.select(ApiKey).where(ApiKey.secret_hash == secret_hash))

    def key(self, organization_id: int, key_id: int) -> ApiKey | None:
        return self.session.scalar(
            sa.select(ApiKey).where(ApiKey.id == key_id, ApiKey.organization_id == organization_id)
        )


class ListingRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, listing: Listing) -> None:
        self.session.add(listing)

    def get(self, listing_id: int) -> Listing | None:
        return self.session.get(Listing, listing_id)

    def by_source_ref(self, organization_id: int, source_ref: str) -> Listing | None:
        return self.session.scalar(
            sa.select(Listing).where(
                Listing.organization_id == organization_id, Listing.source_ref == source_ref
            )
        )

    def said_yes_by(self, member_id: int) -> list[Listing]:
        """Active listings the member said yes to (a closed or paused one drops out of their
        calendar and reminders)."""
        return list(
            self.session.scalars(
                sa.select(Listing)
                .join(Suggestion, Suggestion.listing_id == Listing.id)
                .where(
                    Suggestion.member_id == member_id,
                    Suggestion.kind == SuggestionKind.GROUP,
                    Suggestion.status == SuggestionStatus.YES,
                    Listing.status == ListingStatus.ACTIVE,
                )
                .order_by(Listing.title, Listing.id)
            ).unique()
        )

    def search(self, filters: ListingFilter, offset: int, limit: int) -> tuple[list[Listing], int]:
        query = self._filtered(filters)
        total = self.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        rows = self.session.scalars(query.order_by(Listing.id).offset(offset).limit(limit))
        return list(rows), total or 0

    def _filtered(self, f: ListingFilter) -> sa.Select:
        query = sa.select(Listing)
        if f.statuses is not None:
            query = query.where(Listing.status.in_(f.statuses))
        if f.organization_id is not None:
            query = query.where(Listing.organization_id == f.organization_id)
        if f.kind:
            query = query.where(Listing.kind == f.kind)
        if f.direction:
            query = query.where(Listing.direction == f.direction)
        if f.is_virtual is not None:
            query = query.where(Listing.is_virtual == f.is_virtual)
        for kind, tag in (("cause", f.cause), ("interest", f.tag)):
            if tag:
                query = query.where(
                    sa.exists().where(
                        ListingTag.listing_id == Listing.id,
                        ListingTag.kind == kind,
                        ListingTag.tag == tag,
                    )
                )
        if f.near:
            lat, lon, km = f.near
            south, north, west, east = bounding_box(lat, lon, km)
            query = query.where(
                Listing.lat.between(south, north),
                Listing.lon.between(west, east),
                haversine_km_sql(Listing.lat, Listing.lon, lat, lon) <= km,
            )
        return query


class MemberRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, member: Member) -> None:
        self.session.add(member)

    def get(self, member_id: int) -> Member | None:
        return self.session.get(Member, member_id)

    def by_email(self, email: str) -> Member | None:
        return self.session.scalar(sa.select(Member).where(Member.email == email))

    def by_token_hash(self, token_hash: str) -> Member | None:
        return self.session.scalar(sa.select(Member).where(Member.token_hash == token_hash))

    def delete(self, member: Member) -> None:
        self.session.delete(member)

    def count(self) -> int:
        return self.session.scalar(sa.select(sa.func.count(Member.id))) or 0


class CoordinatorRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, coordinator: Coordinator) -> None:
        self.session.add(coordinator)

    def by_email(self, email: str) -> Coordinator | None:
        return self.session.scalar(sa.select(Coordinator).where(Coordinator.email == email))

    def by_token_hash(self, token_hash: str) -> Coordinator | None:
        return self.session.scalar(
            sa.select(Coordinator).where(Coordinator.token_hash == token_hash)
        )


__all__ = [
    "CoordinatorRepository",
    "ListingFilter",
    "ListingRepository",
    "MemberRepository",
    "OrganizationRepository",
]
