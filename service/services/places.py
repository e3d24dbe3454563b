"""Places a member can pick from: the areas where live listings meet.

Picking an area instead of typing coordinates keeps the sign-up form plain, and puts the member
at the middle of the groups around them, not at their own front door.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from service.adapters.orm import Listing
from service.domain.vocabulary import ListingStatus
from service.services.unit_of_work import UnitOfWork

# About 11 m: finer than any travel distance, and no false precision in a member's profile.
COORDINATE_DECIMALS = 4


@dataclass(frozen=True)
class Area:
    name: str
    lat: float
    lon: float


def listing_areas(uow: UnitOfWork) -> list[Area]:
    """Each named area of the active, placed listings, at the average of their coordinates."""
    with uow:
        rows = uow.session.execute(
            sa.select(Listing.area, sa.func.avg(Listing.lat), sa.func.avg(Listing.lon))
            .where(
                Listing.status == ListingStatus.ACTIVE,
                Listing.area.is_not(None),
                Listing.area != "",
                Listing.lat.is_not(None),
                Listing.lon.is_not(None),
            )
            .group_by(Listing.area)
            .order_by(Listing.area)
        ).all()
    return [
        Area(name, round(float(lat), COORDINATE_DECIMALS), round(float(lon), COORDINATE_DECIMALS))
        for name, lat, lon in rows
    ]
