"""The real data sets in ../shared/data, read at run time as listings, profiles and interactions.

Each loader turns one folder into the plain dicts the matcher takes (API-shaped listings and
profiles plus an "id") and the joins people really made. Nothing here is copied into the
repository: the files are read from the data directory every time. Each folder's README.md says
where the data came from; docs/evaluation.md says how it is used.

Fields a data set does not record (a member's comfort, availability, how far they travel) get
the same neutral values for everyone, so no method gains from an invented signal.
"""

from __future__ import annotations

import csv
import html
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASET_NAMES = ("meetup_portland", "meetup_montana", "nyc_service_volunteer")

# Portland's member topics were pulled only for members of these two groups, so a join there is
# why a member is in the data at all; predicting it would measure the sampling, not the matcher.
PORTLAND_SEED_GROUPS = frozenset({"11038292", "1685557"})
# Meetup categories that name a cause rather than a hobby.
PORTLAND_CAUSE_CATEGORIES = frozenset(
    {"community & environment", "movements & politics", "support", "lgbt"}
)
# Meetup did not record how far members travel; their joins show they went across the metro
# area, so the widest radius the API allows keeps distance from ruling anyone out.
MEETUP_TRAVEL_RADIUS_KM = 100.0
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NYC_CSV = "NYC_Service__Volunteer_Opportunities__Historical__20250626.csv"

# One short query per NYC category, in words a member might type (the README's proposal).
# They avoid the category's own name where it is not a word a person would use.
NYC_QUERIES = {
    "Strengthening Communities": (["community", "neighborhood", "events", "organizing"], []),
    "Helping Neighbors in Need": (["food", "hunger", "homeless", "seniors"], ["poverty"]),
    "Education": (["tutoring", "reading", "mentoring", "youth"], ["education"]),
    "Health": (["health", "hospital", "patients", "wellness"], ["health"]),
    "Environment": (["trees", "parks", "gardening", "recycling"], ["environment"]),
    "Emergency Preparedness": (["emergency", "disaster", "preparedness", "safety"], []),
}


@dataclass
class Dataset:
    """One data set as the matcher sees it, plus what the evaluation needs to judge it.

    candidate_ids: listings whose joins are observed, so that "not joined" means something;
    they are the listings ranked and the only ones that can be relevant.
    relevance: for query data sets without joins, the listings judged relevant to each profile.
    """

    name: str
    listings: list[dict]
    profiles: dict[str, dict]
    interactions: list[dict]
    candidate_ids: frozenset[str]
    relevance: dict[str, frozenset[str]] | None = None
    notes: dict = field(default_factory=dict)


def default_data_dir() -> Path:
    """../shared/data beside the repository; KINDRED_SHARED_DATA overrides (as in the tests)."""
    return Path(os.environ.get("KINDRED_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")


def load_dataset(name: str, data_dir: Path | str | None = None) -> Dataset:
    loaders: dict[str, Callable[[Path], Dataset]] = {
        "meetup_portland": load_meetup_portland,
        "meetup_montana": load_meetup_montana,
        "nyc_service_volunteer": load_nyc_service_volunteer,
    }
    if name not in loaders:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    folder = Path(data_dir or default_data_dir()) / name
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}")
    return loaders[name](folder)


# --- Meetup Portland ---------------------------------------------------------------------------


def load_meetup_portland(folder: Path) -> Dataset:
    listings = [portland_listing(row) for row in read_csv(folder / "groups.csv")]
    topics = portland_member_topics(folder / "member_topics.csv")
    places = {row["member_id"]: row for row in read_csv(folder / "members.csv")}
    profiles = {
        member_id: meetup_profile(member_id, names, places.get(member_id))
        for member_id, names in topics.items()
    }
    interactions = [
        joined(row["member_id"], row["group_id"], portland_time(row["joined"]))
        for row in read_csv(folder / "memberships.csv")
    ]
    observed = {interaction["listing_id"] for interaction in interactions}
    return Dataset(
        name="meetup_portland",
        listings=listings,
        profiles=profiles,
        interactions=interactions,
        candidate_ids=frozenset(observed - PORTLAND_SEED_GROUPS),
        notes={
            "catalogue": len(listings),
            "groups_with_member_lists": len(observed),
            "seed_groups_kept_in_training": sorted(PORTLAND_SEED_GROUPS),
        },
    )


def portland_listing(row: dict) -> dict:
    category = (row.get("category_name") or "").strip().lower()
    return meetup_listing(
        listing_id=row["group_id"],
        title=row["name"],
        description=row["description"],
        interests=[category] if category else [],
        causes=[category] if category in PORTLAND_CAUSE_CATEGORIES else [],
        lat=to_float(row.get("lat")),
        lon=to_float(row.get("lon")),
        area=row.get("city") or "Portland",
        popularity=int(to_float(row.get("members")) or 0),
    )


def portland_member_topics(path: Path) -> dict[str, list[str]]:
    topics: dict[str, list[str]] = defaultdict(list)
    for row in read_csv(path):
        name = clean_tag(row["topic_name"])
        if name and name not in topics[row["member_id"]]:
            topics[row["member_id"]].append(name)
    return dict(topics)


def portland_time(text: str) -> str:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).isoformat()


# --- Meetup Montana ----------------------------------------------------------------------------


def load_meetup_montana(folder: Path) -> Dataset:
    group_topics = montana_group_topics(folder / "groups_topics.csv")
    topic_names = {
        topic_id: name for names in group_topics.values() for topic_id, name in names.items()
    }
    extra_names = portland_topic_names(folder.parent / "meetup_portland" / "member_topics.csv")
    events = read_csv_list(folder / "events.csv")
    venues = {row["id"]: row for row in read_csv(folder / "venues.csv")}
    rsvps = read_csv_list(folder / "rsvps.csv")
    listings = [
        montana_listing(row, group_topics.get(row["id"], {}), events, venues, rsvps)
        for row in read_csv(folder / "groups.csv")
    ]
    member_rows = read_csv_list(folder / "members.csv")
    profiles, naming = montana_profiles(member_rows, topic_names, extra_names)
    interactions = [
        joined(row["member_id"], row["group_id"], from_millis(row["joined"])) for row in member_rows
    ]
    interactions += montana_attendance(rsvps, events)
    observed = {row["group_id"] for row in member_rows}
    return Dataset(
        name="meetup_montana",
        listings=listings,
        profiles=profiles,
        interactions=interactions,
        candidate_ids=frozenset(observed),
        notes={
            "catalogue": len(listings),
            "groups_with_member_lists": len(observed),
            "member_topic_ids_named_by_group_topics": naming["by_groups"],
            "member_topic_ids_named_by_portland_topics": naming["by_portland"],
            "member_topic_ids_unnamed": naming["unnamed"],
        },
    )


def montana_group_topics(path: Path) -> dict[str, dict[str, str]]:
    topics: dict[str, dict[str, str]] = defaultdict(dict)
    for row in read_csv(path):
        topics[row["groupId"]][row["id"]] = clean_tag(row["name"])
    return dict(topics)


def portland_topic_names(path: Path) -> dict[str, str]:
    """Meetup topic ids are global, so Portland's topic table names many Montana topic ids."""
    if not path.exists():
        return {}
    return {row["topic_id"]: clean_tag(row["topic_name"]) for row in read_csv(path)}


def montana_listing(
    row: dict, topics: dict[str, str], events: list[dict], venues: dict, rsvps: list[dict]
) -> dict:
    own_events = [event for event in events if event["group_id"] == row["id"]]
    venue = most_common_venue(own_events, venues)
    return meetup_listing(
        listing_id=row["id"],
        title=row["name"],
        description=row["description"],
        interests=sorted(set(topics.values())),
        causes=[],
        lat=to_float(venue.get("lat")),
        lon=to_float(venue.get("lon")),
        area=venue.get("city") or "Montana",
        popularity=None,
        weekly_slots=usual_weekly_slots(own_events),
        group_size=usual_group_size(own_events, rsvps),
    )


def most_common_venue(events: list[dict], venues: dict) -> dict:
    counts = Counter(event["venue_id"] for event in events if event["venue_id"] in venues)
    return venues[counts.most_common(1)[0][0]] if counts else {}


def usual_weekly_slots(events: list[dict], limit: int = 2) -> list[dict]:
    """The one or two local weekday-and-hour slots a group meets at most often.

    A slot must hold at least a fifth of the group's events, so a group with scattered one-off
    events gets no weekly slot rather than an invented one.
    """
    local_starts = [local_start(event) for event in events if event.get("time")]
    counts = Counter((WEEKDAYS[start.weekday()], f"{start.hour:02d}:00") for start in local_starts)
    return [
        {"day": day, "start": hour, "minutes": 120}
        for (day, hour), count in counts.most_common(limit)
        if count >= max(2, len(local_starts) / 5)
    ]


def local_start(event: dict) -> datetime:
    millis = int(event["time"]) + int(event.get("utc_offset") or 0)
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def usual_group_size(events: list[dict], rsvps: list[dict]) -> str:
    """small / medium / large from the median count of "yes" replies per event."""
    event_ids = {event["id"] for event in events}
    yes = Counter(
        rsvp["event_id"]
        for rsvp in rsvps
        if rsvp["response"] == "yes" and rsvp["event_id"] in event_ids
    )
    if not yes:
        return "medium"
    counts = sorted(yes.values())
    median = counts[len(counts) // 2]
    return size_for(median)


def size_for(people: float) -> str:
    # The boundaries kindred's vocabulary uses: small 2-8, medium 9-20, large 21+.
    if people <= 8:
        return "small"
    return "medium" if people <= 20 else "large"


def montana_profiles(
    rows: list[dict], topic_names: dict[str, str], extra_names: dict[str, str]
) -> tuple[dict[str, dict], Counter]:
    profiles: dict[str, dict] = {}
    tally: Counter = Counter()
    for row in rows:
        topic_ids = [topic for topic in (row.get("topics") or "").split(";") if topic]
        if not topic_ids or row["member_id"] in profiles:
            continue
        names = []
        for topic_id in topic_ids:
            name = topic_names.get(topic_id) or extra_names.get(topic_id)
            tally[
                "by_groups" if topic_id in topic_names else "by_portland" if name else "unnamed"
            ] += 1
            if name and name not in names:
                names.append(name)
        if names:
            profiles[row["member_id"]] = meetup_profile(row["member_id"], names, None)
    return profiles, tally


def montana_attendance(rsvps: list[dict], events: list[dict]) -> list[dict]:
    """A "yes" to an event counts as attending its group (every RSVP maps to a group)."""
    group_of = {event["id"]: event["group_id"] for event in events}
    return [
        {
            "member_id": rsvp["member_id"],
            "listing_id": group_of[rsvp["event_id"]],
            "kind": "attended",
            "time": from_millis(rsvp["created"]),
        }
        for rsvp in rsvps
        if rsvp["response"] == "yes" and rsvp["event_id"] in group_of
    ]


# --- NYC Service volunteer opportunities -------------------------------------------------------


def load_nyc_service_volunteer(folder: Path) -> Dataset:
    listings, categories = [], {}
    for row in read_csv(folder / NYC_CSV):
        if not (row.get("title") and row.get("summary")):
            continue
        listings.append(nyc_listing(row))
        categories[row["opportunity_id"]] = row.get("category_desc", "")
    profiles, relevance = {}, {}
    for category, (interests, causes) in NYC_QUERIES.items():
        query_id = "query:" + category.lower().replace(" ", "_")
        profiles[query_id] = query_profile(query_id, interests, causes)
        relevance[query_id] = frozenset(
            listing_id for listing_id, desc in categories.items() if desc == category
        )
    return Dataset(
        name="nyc_service_volunteer",
        listings=listings,
        profiles=profiles,
        interactions=[],
        candidate_ids=frozenset(listing["id"] for listing in listings),
        relevance=relevance,
        notes={
            "catalogue": len(listings),
            "without_category": sum(1 for desc in categories.values() if not desc),
            "with_coordinates": sum(1 for listing in listings if listing["lat"] is not None),
        },
    )


def nyc_listing(row: dict) -> dict:
    """A listing like the importer makes, minus the category: the category is the answer key.

    The importer copies category_desc into causes (and uses it as the fallback interest); here
    that would hand every method the label it is judged on, so tags come from the text only.
    """
    # Imported here: the importer brings the API schemas, which the Meetup loaders never need.
    from service.importing.nyc_volunteer import INTEREST_WORDS

    text = f"{row['title']} {row['summary']}"
    words = set(re.findall(r"[a-z]+", text.lower()))
    volunteers = int(to_float(row.get("vol_requests")) or 0)
    lat, lon = to_float(row.get("Latitude")), to_float(row.get("Longitude"))
    host = row.get("org_title", "")
    return {
        "id": row["opportunity_id"],
        "kind": "volunteer_role",
        "direction": "give",
        "title": row["title"],
        "description": strip_html(row["summary"]) + (f"\n\nHosted by {host}." if host else ""),
        "interests": [word for word in INTEREST_WORDS if word in words],
        "causes": [],
        "is_virtual": False,
        "lat": lat,
        "lon": lon,
        "area": " ".join((row.get("Borough") or "").split()).title() or "New York",
        "weekly_slots": [],
        "sessions": [],
        "group_size": size_for(volunteers) if volunteers else "medium",
        "structure": "structured",
        "pace": "moderate",
        "capacity": volunteers or None,
        "status": "active",
        "organization_id": row.get("org_content_id") or None,
        "popularity": int(to_float(row.get("hits")) or 0),
    }


def query_profile(query_id: str, interests: list[str], causes: list[str]) -> dict:
    profile = neutral_profile(query_id)
    profile.update(interests=interests, causes=causes, attendance="either")
    return profile


# --- Shared shapes -----------------------------------------------------------------------------


def meetup_listing(
    *,
    listing_id: str,
    title: str,
    description: str,
    interests: list[str],
    causes: list[str],
    lat: float | None,
    lon: float | None,
    area: str,
    popularity: int | None,
    weekly_slots: list[dict] | None = None,
    group_size: str = "medium",
) -> dict:
    return {
        "id": listing_id,
        "kind": "interest_group",
        "direction": "receive",
        "title": title.strip(),
        "description": strip_html(description),
        "interests": interests,
        "causes": causes,
        "is_virtual": False,
        "lat": lat,
        "lon": lon,
        "area": area,
        "weekly_slots": weekly_slots or [],
        "sessions": [],
        # Meetup does not say how structured or lively a group is: neutral middle values.
        "group_size": group_size,
        "structure": "mixed",
        "pace": "moderate",
        "capacity": None,
        "status": "active",
        "organization_id": None,
        "popularity": popularity,
    }


def meetup_profile(member_id: str, topics: list[str], place: dict | None) -> dict:
    profile = neutral_profile(member_id)
    profile.update(
        interests=topics,
        lat=to_float((place or {}).get("lat")),
        lon=to_float((place or {}).get("lon")),
        travel_radius_km=MEETUP_TRAVEL_RADIUS_KM,
    )
    return profile


def neutral_profile(member_id: str) -> dict:
    """A profile with every field the data cannot tell set to the same middle value."""
    return {
        "id": member_id,
        "interests": [],
        "interests_text": "",
        "causes": [],
        "lat": None,
        "lon": None,
        "travel_radius_km": MEETUP_TRAVEL_RADIUS_KM,
        "availability": [],
        "attendance": "in_person",
        "comfort_group_size": "medium",
        "comfort_structure": "mixed",
        "comfort_pace": "moderate",
        "start_slowly": False,
        "consents": {"matching": True, "peer_introductions": True},
    }


def joined(member_id: str, listing_id: str, time: str | None) -> dict:
    return {"member_id": member_id, "listing_id": listing_id, "kind": "joined", "time": time}


# --- Reading and cleaning ----------------------------------------------------------------------


def read_csv(path: Path) -> Iterator[dict]:
    # errors="replace": one stray byte in a description should not stop an evaluation.
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        for row in csv.DictReader(handle):
            yield {key.strip(): repair(value or "").strip() for key, value in row.items() if key}


def repair(text: str) -> str:
    """Undo UTF-8 read as Latin-1 ("espaÃ±ol" -> "español"), found in Portland's topic names."""
    if "Ã" not in text and "Â" not in text:
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


def read_csv_list(path: Path) -> list[dict]:
    return list(read_csv(path))


class _TextOnly(HTMLParser):
    SKIPPED = frozenset({"script", "style", "iframe"})
    BREAKS = frozenset({"p", "br", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """Plain text from a Meetup or NYC description: tags dropped, entities decoded."""
    parser = _TextOnly()
    parser.feed(text or "")
    parser.close()
    plain = html.unescape("".join(parser.parts))
    # Portland's descriptions carry UTF-8 non-breaking spaces decoded as Latin-1 ("Â ").
    plain = plain.replace("\u00c2\u00a0", " ").replace("\u00a0", " ")
    lines = (" ".join(line.split()) for line in plain.splitlines())
    return "\n".join(line for line in lines if line)


def clean_tag(name: str) -> str:
    return " ".join((name or "").lower().split())[:40]


def to_float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def from_millis(value: str) -> str | None:
    if not value:
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC).isoformat()
