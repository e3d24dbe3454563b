"""Import volunteer listings from a CSV shaped like NYC Open Data's volunteer opportunities.

Columns used: opportunity_id, title, summary, category_desc, org_title, vol_requests,
recurrence_type, start_date_date, end_date_date, hours, Latitude, Longitude, Borough, locality.
Each row is validated by the API's own listing schema and created through the listing use case,
so an imported listing obeys every rule a posted one does. A row that cannot become a listing is
skipped, with its line number and the reason.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from marshmallow import ValidationError

from service.api.listings import ListingWriteSchema, json_safe_schedule
from service.domain.credentials import Principal
from service.domain.errors import DomainError
from service.services import listings as use_cases

NEW_YORK = ZoneInfo("America/New_York")

COORDINATES_IN_TEXT = re.compile(r"\((-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?)\)")
# Hobby and skill words worth lifting from a listing's text as interest tags.
INTEREST_WORDS = (
    "art",
    "books",
    "children",
    "computers",
    "cooking",
    "dance",
    "design",
    "education",
    "elderly",
    "environment",
    "food",
    "gardening",
    "health",
    "history",
    "languages",
    "literacy",
    "mentoring",
    "music",
    "parks",
    "photography",
    "reading",
    "research",
    "seniors",
    "sports",
    "teaching",
    "technology",
    "theater",
    "trees",
    "tutoring",
    "writing",
    "youth",
)


class SkipRow(Exception):
    """This row cannot become a listing; the message says why, in words a person can act on."""


@dataclass
class ImportReport:
    loaded: int = 0
    already_imported: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def skipped_by_reason(self) -> Counter:
        return Counter(reason.split(":")[0] for _, reason in self.skipped)


def read_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line where the record starts, cleaned row) for each record of the file."""
    # errors="replace": a stray byte in one summary should not stop the whole import.
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle)
        start_line = 2  # line 1 is the header; quoted cells may span several lines
        for row in reader:
            # Extra cells beyond the header land under the key None: they are not ours to read.
            yield (
                start_line,
                {
                    key.strip(): (value or "").strip()
                    for key, value in row.items()
                    if isinstance(key, str)
                },
            )
            start_line = reader.line_num + 1


def row_to_listing(row: dict) -> dict:
    """The listing payload (API shape) for one row, or SkipRow."""
    title = row.get("title", "")
    summary = row.get("summary", "")
    if not title:
        raise SkipRow("no title")
    if not summary:
        raise SkipRow("no summary")
    lat, lon = _coordinates(row)
    category = row.get("category_desc", "").lower()
    host = row.get("org_title", "")
    volunteers = _int(row.get("vol_requests"))
    return {
        "kind": "volunteer_role",
        "direction": "give",
        "title": _shorten(title, 120),
        "description": _shorten(summary + (f"\n\nHosted by {host}." if host else ""), 4000),
        "interests": _interests(title, summary, category),
        "causes": [category] if category else [],
        "is_virtual": False,
        "lat": lat,
        "lon": lon,
        "area": _area(row),
        "sessions": _sessions(row),
        "timezone": NEW_YORK.key,
        "group_size": "small" if volunteers <= 8 else "medium" if volunteers <= 20 else "large",
        "structure": "structured",
        "pace": "moderate",
        "capacity": volunteers or None,
        "languages": ["en"],
    }


def import_rows(
    uow_factory, partner: Principal, rows: Iterable[tuple[int, dict]], progress=None
) -> ImportReport:
    report = ImportReport()
    schema = ListingWriteSchema()
    for line_number, row in rows:
        try:
            payload = json_safe_schedule(schema.load(row_to_listing(row)))
            payload["source_ref"] = f"nyc:{row.get('opportunity_id') or line_number}"
            created = use_cases.create_listing_once(uow_factory(), partner, payload)
            if created:
                report.loaded += 1
            else:
                report.already_imported += 1
        except SkipRow as reason:
            report.skipped.append((line_number, str(reason)))
        except ValidationError as error:
            report.skipped.append((line_number, f"invalid: {_first_problem(error.messages)}"))
        except DomainError as error:
            report.skipped.append((line_number, f"refused: {error.message}"))
        if progress is not None:
            progress.update(1)
    return report


def _coordinates(row: dict) -> tuple[float, float]:
    lat, lon = row.get("Latitude"), row.get("Longitude")
    if not (lat and lon):
        match = COORDINATES_IN_TEXT.search(row.get("locality", ""))
        if not match:
            raise SkipRow("no location: an in-person listing needs latitude and longitude")
        lat, lon = match.groups()
    try:
        return float(lat), float(lon)
    except ValueError as error:
        raise SkipRow(f"no location: unreadable coordinates {lat!r}, {lon!r}") from error


def _area(row: dict) -> str:
    borough = " ".join(row.get("Borough", "").split()).title()
    if borough:
        return borough.replace("Staten Is", "Staten Island")
    lines = row.get("locality", "").splitlines()
    city = lines[1].split(",")[0].strip() if len(lines) > 1 else ""
    return city or row.get("Postcode") or "New York"


def _sessions(row: dict) -> list[dict]:
    """A one-time opportunity becomes a dated session; ongoing ones have flexible times."""
    if row.get("recurrence_type") != "onetime":
        return []
    try:
        day = datetime.strptime(row.get("start_date_date", ""), "%B %d %Y")
    except ValueError:
        return []
    hours = _int(row.get("hours"))
    # The listings give a date only: a morning start where the opportunity is.
    starts_at = day.replace(hour=10, tzinfo=NEW_YORK)
    return [{"starts_at": starts_at.isoformat(), "minutes": min(max(hours * 60, 120), 1440)}]


def _interests(title: str, summary: str, category: str) -> list[str]:
    words = set(re.findall(r"[a-z]+", f"{title} {summary}".lower()))
    found = [word for word in INTEREST_WORDS if word in words]
    return (found or [category or "volunteering"])[:20]


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _int(value: str | None) -> int:
    try:
        return max(int(float(value or 0)), 0)
    except ValueError:
        return 0


def _first_problem(messages) -> str:
    if isinstance(messages, dict):
        name, inner = next(iter(messages.items()))
        return f"{name} {_first_problem(inner)}"
    if isinstance(messages, list) and messages:
        return _first_problem(messages[0])
    return str(messages)
