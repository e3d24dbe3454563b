"""Rules about places: a point is a latitude and a longitude together, or nothing."""

from __future__ import annotations

from service.domain.errors import RuleViolation


def check_coordinates(lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise RuleViolation(
            "latitude and longitude go together", {missing: ["give lat and lon together"]}
        )
