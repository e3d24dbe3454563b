"""The listing form: its fields become the JSON API's listing payload, loaded through the same
schemas (so a form meets exactly the API's rules), and a stored listing becomes the form's values.

Weekly meetings and dated sessions are rows of boxes (`slot-0-day`, `session-2-starts_at`...);
a row left empty is ignored, and the schema's messages about a row land next to that row's boxes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from service.adapters.orm import Listing
from service.api.fields import all_optional, known_time_zones
from service.api.listings import ListingUpdateSchema, ListingWriteSchema, json_safe_schedule
from service.dashboard.forms import FormInvalid, given, load, number, ticked, without_empty, words
from service.domain.vocabulary import ACCESSIBILITY_FEATURES, ListingStatus

# The schema's limits (14 weekly slots, 52 sessions); one more row is read so that it can say so.
SLOT_FIELDS = ("day", "start", "minutes")
SESSION_FIELDS = ("starts_at", "minutes")
MAX_SLOT_ROWS = 15
MAX_SESSION_ROWS = 53
MIN_ROWS = 3
# On edit an emptied box means "remove it", not "unchanged": these may be removed.
CLEARABLE = ("lat", "lon", "area", "capacity")
REQUIRED_MESSAGE = "Missing data for required field."
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"

ROW_ERROR = re.compile(r"^(weekly_slots|sessions)\[(\d+)\]\.(\w+)$")
ITEM_ERROR = re.compile(r"^(\w+)\[\d+\]$")
ROW_PREFIX = {"weekly_slots": "slot", "sessions": "session"}

KINDS = [
    ("club", "Club: people meet regularly around a shared activity"),
    ("interest_group", "Interest group: people who share a hobby or topic"),
    ("class", "Class: someone teaches, people learn together"),
    ("volunteer_role", "Volunteer role: help out with a cause or a task"),
    ("support_group", "Support group: people who share an experience support each other"),
]
DIRECTIONS = [
    ("give", "Give: members help others (volunteering, mentoring, lending a hand)"),
    ("receive", "Receive: members join in, learn or get support"),
]
WHERE = [("no", "In person, at a place"), ("yes", "Online (virtual)")]
GROUP_SIZES = [
    ("small", "Small: usually 2 to 8 people"),
    ("medium", "Medium: usually 9 to 20 people"),
    ("large", "Large: 21 people or more"),
]
STRUCTURES = [
    ("structured", "Structured: a shared activity carries the conversation"),
    ("mixed", "Mixed: some activity, some time to chat"),
    ("open_social", "Open social: mingling and chatting is the activity"),
]
PACES = [
    ("low_key", "Low-key: calm, no pressure to talk or perform"),
    ("moderate", "Moderate"),
    ("high_energy", "High-energy: lively, busy or physically active"),
]
DAYS = [
    ("", "(no meeting)"),
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
]
ACCESSIBILITY_WORDS = {
    "step_free": "Step-free access",
    "accessible_toilet": "Accessible toilet",
    "quiet_space": "A quiet space to take a break",
    "hearing_loop": "Hearing loop",
    "sign_language": "Sign language",
    "seating": "Seating available",
    "large_print": "Large print materials",
    "public_transport_nearby": "Public transport nearby",
}
ACCESSIBILITY = [(value, ACCESSIBILITY_WORDS.get(value, value)) for value in ACCESSIBILITY_FEATURES]

# What each field is called on the form, for the list of problems at the top.
LABELS = {
    "kind": "Kind of listing",
    "direction": "Give or receive",
    "title": "Title",
    "description": "Description",
    "interests": "Interests",
    "causes": "Causes",
    "is_virtual": "Where it meets",
    "area": "Area name",
    "lat": "Latitude",
    "lon": "Longitude",
    "weekly_slots": "Weekly meetings",
    "sessions": "Dated sessions",
    "timezone": "Time zone",
    "group_size": "Group size",
    "structure": "Structure",
    "pace": "Pace",
    "accessibility": "Accessibility",
    "capacity": "Capacity",
    "languages": "Languages",
    "status": "Status",
}
# Groups of choices and rows have no control named after them: link to their first control.
ANCHORS = {
    "kind": f"kind-{KINDS[0][0]}",
    "direction": f"direction-{DIRECTIONS[0][0]}",
    "is_virtual": f"is_virtual-{WHERE[0][0]}",
    "group_size": f"group_size-{GROUP_SIZES[0][0]}",
    "structure": f"structure-{STRUCTURES[0][0]}",
    "pace": f"pace-{PACES[0][0]}",
    "accessibility": f"accessibility-{ACCESSIBILITY[0][0]}",
    "weekly_slots": "slot-0-day",
    "sessions": "session-0-starts_at",
    "_body": "listing-form",
}


@dataclass(frozen=True)
class ParsedForm:
    payload: dict
    # For weekly_slots and sessions: the form row each payload item came from.
    rows: dict[str, list[int]]


def new_listing(form: MultiDict) -> dict:
    """The create payload, validated by the API's ListingWriteSchema."""
    parsed = _parse(form, zone_when_empty="UTC")
    if form.get("save_as") == "draft":
        parsed.payload["status"] = ListingStatus.DRAFT.value
    return _load(ListingWriteSchema(), parsed)


def listing_changes(form: MultiDict, listing: Listing) -> dict:
    """The edit payload, validated by the API's PATCH schema. The form shows every field, so a
    required one left empty is a mistake, not "keep it"."""
    parsed = _parse(form, zone_when_empty=listing.timezone)
    for name in CLEARABLE:
        parsed.payload.setdefault(name, None)
    emptied = {
        name: [REQUIRED_MESSAGE]
        for name, field in ListingWriteSchema().fields.items()
        if field.required and parsed.payload.get(name) is None
    }
    return _load(all_optional(ListingUpdateSchema), parsed, emptied)


def _parse(form: MultiDict, zone_when_empty: str) -> ParsedForm:
    zone = given(form, "timezone") or zone_when_empty
    slots, slot_rows = _rows(form, "slot", SLOT_FIELDS, MAX_SLOT_ROWS, _slot)
    sessions, session_rows = _rows(
        form, "session", SESSION_FIELDS, MAX_SESSION_ROWS, lambda f, row: _session(f, row, zone)
    )
    payload = {
        "kind": given(form, "kind"),
        "direction": given(form, "direction"),
        "title": given(form, "title"),
        "description": _multiline(form.get("description")),
        # An empty list of interests is "not given", so the schema says it is required.
        "interests": words(form.get("interests")) or None,
        "causes": words(form.get("causes")),
        "is_virtual": ticked(form, "is_virtual"),
        "area": given(form, "area"),
        "lat": number(form, "lat"),
        "lon": number(form, "lon"),
        "weekly_slots": slots,
        "sessions": sessions,
        "timezone": given(form, "timezone"),
        "group_size": given(form, "group_size"),
        "structure": given(form, "structure"),
        "pace": given(form, "pace"),
        "accessibility": form.getlist("accessibility"),
        "capacity": number(form, "capacity", int),
        "languages": words(form.get("languages")) or None,
    }
    rows = {"weekly_slots": slot_rows, "sessions": session_rows}
    return ParsedForm(without_empty(payload), rows)


def _multiline(text: str | None) -> str | None:
    # Browsers send a textarea's line breaks as CRLF; the schema refuses a bare CR.
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


def _rows(form: MultiDict, prefix: str, names: tuple, limit: int, read) -> tuple[list, list]:
    items, used = [], []
    for row in range(limit):
        if all(given(form, f"{prefix}-{row}-{name}") is None for name in names):
            continue
        items.append(without_empty(read(form, row)))
        used.append(row)
    return items, used


def _slot(form: MultiDict, row: int) -> dict:
    return {
        "day": given(form, f"slot-{row}-day"),
        "start": given(form, f"slot-{row}-start"),
        "minutes": number(form, f"slot-{row}-minutes", int),
    }


def _session(form: MultiDict, row: int, zone: str) -> dict:
    return {
        "starts_at": _in_zone(given(form, f"session-{row}-starts_at"), zone),
        "minutes": number(form, f"session-{row}-minutes", int),
    }


def _in_zone(text: str | None, zone: str) -> str | None:
    """A datetime-local box ("2026-12-05T10:00") read as a time where the listing meets."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text  # the schema refuses it with its own message
    if moment.tzinfo is None:
        # An unknown zone is refused by the schema's timezone field; UTC only stands in for it
        # here, and ZoneInfo is never handed a name that is not a known zone.
        moment = moment.replace(tzinfo=ZoneInfo(zone if zone in known_time_zones() else "UTC"))
    return moment.isoformat()


def _load(schema, parsed: ParsedForm, errors_before: dict | None = None) -> dict:
    errors = dict(errors_before or {})
    try:
        data = load(schema, parsed.payload)
    except FormInvalid as invalid:
        errors.update(_on_the_form(invalid.errors, parsed.rows))
    if errors:
        raise FormInvalid(errors)
    return json_safe_schedule(data)


def _on_the_form(errors: dict[str, list], rows: dict[str, list[int]]) -> dict[str, list]:
    """Schema error keys ("weekly_slots[0].start", "interests[2]") as the form's box names."""
    placed: dict[str, list] = {}
    for key, messages in errors.items():
        placed.setdefault(_box_name(key, rows), []).extend(messages)
    return placed


def _box_name(key: str, rows: dict[str, list[int]]) -> str:
    in_row = ROW_ERROR.match(key)
    if in_row:
        field, index, name = in_row.groups()
        return f"{ROW_PREFIX[field]}-{rows[field][int(index)]}-{name}"
    in_list = ITEM_ERROR.match(key)
    return in_list.group(1) if in_list else key


def blank_values() -> MultiDict:
    return MultiDict({"is_virtual": "no", "timezone": "UTC", "languages": "en"})


def listing_values(listing: Listing) -> MultiDict:
    """A stored listing as the form's boxes, so the edit form starts filled in."""
    values = MultiDict(
        {
            "kind": listing.kind.value,
            "direction": listing.direction.value,
            "title": listing.title,
            "description": listing.description,
            "interests": ", ".join(listing.interests),
            "causes": ", ".join(listing.causes),
            "is_virtual": "yes" if listing.is_virtual else "no",
            "area": listing.area or "",
            "lat": _plain(listing.lat),
            "lon": _plain(listing.lon),
            "timezone": listing.timezone,
            "group_size": listing.group_size.value,
            "structure": listing.structure.value,
            "pace": listing.pace.value,
            "capacity": _plain(listing.capacity),
            "languages": ", ".join(listing.languages),
        }
    )
    values.setlist("accessibility", list(listing.accessibility))
    for row, slot in enumerate(listing.weekly_slots):
        for name in SLOT_FIELDS:
            values[f"slot-{row}-{name}"] = str(slot[name])
    for row, (local, minutes) in enumerate(local_sessions(listing)):
        values[f"session-{row}-starts_at"] = local.strftime(DATETIME_LOCAL)
        values[f"session-{row}-minutes"] = str(minutes)
    return values


def local_sessions(listing: Listing) -> list[tuple[datetime, int]]:
    """Dated sessions (stored in UTC) as times where the listing meets, with their length."""
    zone = ZoneInfo(listing.timezone)
    return [
        (datetime.fromisoformat(session["starts_at"]).astimezone(zone), session["minutes"])
        for session in listing.sessions
    ]


def _plain(value) -> str:
    return "" if value is None else str(value)


def row_count(values: MultiDict, prefix: str, names: tuple, limit: int) -> int:
    """Rows to show: every filled one, one empty one to add another, at least MIN_ROWS."""
    filled = [
        row
        for row in range(limit)
        if any(given(values, f"{prefix}-{row}-{name}") for name in names)
    ]
    return min(limit - 1, max(MIN_ROWS, (filled[-1] + 2) if filled else 0))


def problems(errors: dict[str, list]) -> list[tuple[str, str, str]]:
    """(anchor, label, message) for the list of problems above the form."""
    listed = []
    for name, messages in errors.items():
        listed.append((ANCHORS.get(name, name), _label(name), " ".join(map(str, messages))))
    return listed


def _label(name: str) -> str:
    parts = name.split("-")
    if len(parts) == 3 and parts[0] in ("slot", "session"):
        what = "Weekly meeting" if parts[0] == "slot" else "Dated session"
        return f"{what} {int(parts[1]) + 1}: {parts[2].replace('_', ' ')}"
    return LABELS.get(name, "The listing" if name == "_body" else name)
