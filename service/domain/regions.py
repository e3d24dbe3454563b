"""Regions: named bounding boxes that cut matching into shards, configured rather than coded.

`KINDRED_REGIONS` holds JSON, inline or as the path of a JSON file:

    {"regions": {"nyc": [40.4, -74.3, 41.0, -73.6], "portland": [45.2, -123.2, 45.8, -122.3]},
     "default": "elsewhere"}

Each box is [south, west, north, east] in degrees; a box whose west is east of its east crosses
the antimeridian. A member or listing belongs to the first region whose box holds its coordinates
(boxes are tried in the order written); one without coordinates (a virtual listing, a member who
gave no place) or outside every box belongs to the default region ("default" unless named).
Matching events then go to the queue `matching-<region>`; with no regions configured, everything
stays on `matching`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
DEFAULT_REGION = "default"


@dataclass(frozen=True)
class Region:
    name: str
    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        if not self.south <= lat <= self.north:
            return False
        if self.west <= self.east:
            return self.west <= lon <= self.east
        return lon >= self.west or lon <= self.east  # across the antimeridian


@dataclass(frozen=True)
class Regions:
    regions: tuple[Region, ...]
    default: str = DEFAULT_REGION

    @property
    def names(self) -> tuple[str, ...]:
        """Every region a subject can belong to, the default last."""
        return (*(r.name for r in self.regions), self.default)

    def of(self, lat: float | None, lon: float | None) -> str:
        """The region holding (lat, lon); the default one without coordinates or outside all."""
        if lat is None or lon is None:
            return self.default
        for region in self.regions:
            if region.contains(lat, lon):
                return region.name
        return self.default


def parse(spec: str | None) -> Regions | None:
    """`KINDRED_REGIONS` as Regions; None when empty (no regions: one `matching` queue).
    Raises ValueError, naming the variable, on anything malformed."""
    spec = (spec or "").strip()
    if not spec:
        return None
    try:
        text = spec if spec[0] in "{[" else Path(spec).read_text()
        document = json.loads(text)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"KINDRED_REGIONS: not JSON nor a readable JSON file: {error}") from error
    if isinstance(document, list | dict) and not (
        isinstance(document, dict) and "regions" in document
    ):
        document = {"regions": document}
    if not isinstance(document, dict):
        raise ValueError("KINDRED_REGIONS: expected an object with 'regions'")
    entries = document["regions"]
    if isinstance(entries, dict):
        entries = [{"name": name, "box": box} for name, box in entries.items()]
    if not isinstance(entries, list) or not entries:
        raise ValueError("KINDRED_REGIONS: 'regions' must name at least one region")
    default = document.get("default", DEFAULT_REGION)
    regions = tuple(_region(entry) for entry in entries)
    names = [r.name for r in regions]
    if not isinstance(default, str) or not NAME.match(default):
        raise ValueError(f"KINDRED_REGIONS: bad default region name {default!r}")
    if len(set(names)) != len(names) or default in names:
        raise ValueError("KINDRED_REGIONS: region names (and the default) must be distinct")
    return Regions(regions, default)


def _region(entry) -> Region:
    if not isinstance(entry, dict) or set(entry) != {"name", "box"}:
        raise ValueError(f"KINDRED_REGIONS: each region is {{name, box}}, not {entry!r}")
    name, box = entry["name"], entry["box"]
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(
            f"KINDRED_REGIONS: region name {name!r}: lower-case letters, digits, - and _"
        )
    numbers = isinstance(box, list) and all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in box
    )
    if not numbers or len(box) != 4:
        raise ValueError(f"KINDRED_REGIONS: {name}: box is [south, west, north, east]")
    south, west, north, east = (float(x) for x in box)
    if not (-90 <= south <= north <= 90 and -180 <= west <= 180 and -180 <= east <= 180):
        raise ValueError(f"KINDRED_REGIONS: {name}: box {box} is not a latitude/longitude box")
    return Region(name, south, west, north, east)
