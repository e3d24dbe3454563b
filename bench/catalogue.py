"""A realistic catalogue for the benchmarks, resampled from the real data sets in ../shared/data.

Listings take their title, description, interests and causes from a real Meetup group or NYC
volunteer listing, and their place from a real venue of the same city, jittered so no two sit on
the same point. Meeting times come from real Meetup event times. Members take their interests from
real Meetup topic names (Portland members' own topics and the groups' topics), their causes from
the NYC categories, and their home from a real place. Some members join nearby listings that share
their interests, so the collaborative signals have something to learn from.

The data is read at run time and never copied into the repository; the built catalogue is cached
as a pickle under var/bench/ (gitignored) so reruns start in seconds.

    python -m bench.catalogue --listings 5000 --members 5000
"""

from __future__ import annotations

import csv
import html
import pickle
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common

# Bump when the generator changes, so cached catalogues built by older code are not reused.
CATALOGUE_VERSION = 3
NYC_CSV = "NYC_Service__Volunteer_Opportunities__Historical__20250626.csv"
# City centres, to drop the odd venue recorded in another country.
CENTRES = {
    "london": (51.507, -0.128, 60.0),
    "portland": (45.52, -122.68, 80.0),
    "montana": (46.9, -112.0, 600.0),
    "nyc": (40.73, -73.95, 60.0),
}
# Meetup categories that name a cause rather than a hobby (the rest become interests).
CAUSE_CATEGORIES = {"community & environment", "movements & politics", "support", "lgbt"}
SIZES = ("small", "medium", "large")
STRUCTURES = ("structured", "mixed", "open_social")
PACES = ("low_key", "moderate", "high_energy")
PARTS_OF_DAY = ("morning", "afternoon", "evening")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KM_PER_DEGREE = 111.2
MOJIBAKE_MARKS = ("Ã", "Â", "Ð", "Ñ", "â€")
UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


@dataclass(frozen=True)
class Template:
    """The words of one real listing, and where it came from."""

    region: str
    kind: str
    title: str
    sentences: tuple[str, ...]
    interests: tuple[str, ...]
    causes: tuple[str, ...]
    popularity: float


@dataclass
class Sources:
    templates: list[Template]
    places: dict[str, np.ndarray]  # region -> (n, 2) lat/lon of real venues and places
    areas: dict[str, list[str]]  # region -> the city or borough of each place
    slots: list[tuple[str, str]]  # (day, "HH:MM") of real Meetup events
    member_topic_sets: list[list[str]]  # Portland members' own topics
    group_topics: list[str]  # every group-topic row, so frequent topics are drawn more often
    causes: list[str]  # NYC categories


@dataclass
class Catalogue:
    listings: list[dict]
    profiles: list[dict]
    interactions: list[dict]
    summary: dict = field(default_factory=dict)


# ---------------------------------------------------------------- reading the real data


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        return list(csv.DictReader(handle))


def plain_text(raw: str) -> str:
    """HTML descriptions as plain sentences, as a partner would paste them into the API."""
    if any(mark in raw for mark in MOJIBAKE_MARKS):
        raw = repaired(raw)
    text = re.sub(r"<[^>]+>", " ", html.unescape(raw))
    # The API refuses control and format characters (soft hyphens, stray C1 bytes).
    text = "".join(c for c in text if unicodedata.category(c) not in UNSAFE_CATEGORIES)
    return " ".join(text.split())


def repaired(text: str) -> str:
    """Text that was UTF-8 decoded as Latin-1 or Windows-1252 once, decoded properly."""
    for codec in ("latin-1", "cp1252"):
        try:
            return text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
    return text.replace("Â", "")


def sentences(text: str) -> tuple[str, ...]:
    parts = [part.strip() for part in re.split(r"(?<=[.!?])\s+", text) if part.strip()]
    return tuple(parts) or ("",)


def tag(name: str) -> str:
    """A topic name as the API accepts a tag: lower case, letters, digits, spaces and & ' + / . -
    only, starting with a letter or digit, at most 40 characters ("c#" becomes "c sharp")."""
    text = name.lower().replace("#", " sharp")
    text = re.sub(r"[^\w &'+/.-]+", " ", text)
    text = re.sub(r"^[^\w]+", "", " ".join(text.split()))
    return text[:40].strip()


def topics_by_group(path: Path) -> dict[str, list[str]]:
    topics = defaultdict(list)
    for row in read_csv(path):
        if (name := tag(row["name"])) and name not in topics[row["groupId"]]:
            topics[row["groupId"]].append(name)
    return topics


def meetup_templates(folder: Path, region: str) -> list[Template]:
    """London and Montana groups: name, description and the group's own topics."""
    topics = topics_by_group(folder / "groups_topics.csv")
    return [
        Template(
            region=region,
            kind="interest_group",
            title=title(row["name"], "Meetup group"),
            sentences=sentences(plain_text(row["description"])),
            interests=tuple(topics.get(row["id"]) or [tag(row["name"])]),
            causes=(),
            popularity=10 * float(row.get("rating") or 0),
        )
        for row in read_csv(folder / "groups.csv")
    ]


def unique(*names: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def title(raw: str, fallback: str) -> str:
    text = plain_text(raw)[:120].strip()
    return text if len(text) >= 3 else fallback


def mentioned_topics(text: str, topics: frozenset[str], limit: int = 8) -> list[str]:
    """Known topic names that the text itself uses (one to three words), in order of use."""
    words = re.findall(r"[a-z0-9][a-z0-9+#'.&-]*", text.lower())
    found = []
    for size in (3, 2, 1):
        for start in range(len(words) - size + 1):
            phrase = " ".join(words[start : start + size])
            if phrase in topics and phrase not in found:
                found.append(phrase)
    return found[:limit]


def portland_templates(folder: Path, topics: frozenset[str]) -> list[Template]:
    """Portland groups have a category, not topics: a cause category becomes a cause, and the
    topic names their own text mentions become interests."""
    templates = []
    for row in read_csv(folder / "groups.csv"):
        category = tag(row["category_name"] or "socializing")
        text = plain_text(row["description"])
        templates.append(
            Template(
                region="portland",
                kind="club",
                title=title(row["name"], "Meetup group"),
                sentences=sentences(text),
                interests=unique(category, *mentioned_topics(f"{row['name']} {text}", topics)),
                causes=(category,) if category in CAUSE_CATEGORIES else (),
                popularity=float(row["members"] or 0),
            )
        )
    return templates


def nyc_templates(folder: Path, topics: frozenset[str]) -> list[Template]:
    """NYC listings are volunteer roles: the category is the cause; topic names their text
    mentions are interests."""
    return [
        Template(
            region="nyc",
            kind="volunteer_role",
            title=title(row["title"], "Volunteer"),
            sentences=sentences(plain_text(row["summary"])),
            interests=unique(
                "volunteering", *mentioned_topics(f"{row['title']} {row['summary']}", topics)
            ),
            causes=(tag(row["category_desc"]),) if row["category_desc"] else (),
            popularity=float(row["hits"] or 0),
        )
        for row in read_csv(folder / NYC_CSV)
    ]


def near_centre(region: str, lat: float, lon: float) -> bool:
    centre_lat, centre_lon, radius_km = CENTRES[region]
    dlat = (lat - centre_lat) * KM_PER_DEGREE
    dlon = (lon - centre_lon) * KM_PER_DEGREE * np.cos(np.radians(centre_lat))
    return dlat * dlat + dlon * dlon <= radius_km * radius_km


def place_rows(region: str, rows, lat_key: str, lon_key: str, area_key: str | None):
    """(lat, lon, area) of every row with a usable point in the region."""
    found = []
    for row in rows:
        try:
            lat, lon = float(row[lat_key]), float(row[lon_key])
        except (TypeError, ValueError):
            continue
        if near_centre(region, lat, lon):
            area = (row.get(area_key) if area_key else None) or region
            found.append((lat, lon, area.strip().title()))
    return found


def real_places(data_dir: Path) -> dict[str, list]:
    london, montana = data_dir / "meetup_london_groups", data_dir / "meetup_montana"
    portland, nyc = data_dir / "meetup_portland", data_dir / "nyc_service_volunteer"
    return {
        "london": place_rows("london", read_csv(london / "venues.csv"), "lat", "lon", "city"),
        "montana": place_rows("montana", read_csv(montana / "venues.csv"), "lat", "lon", "city"),
        "portland": place_rows("portland", read_csv(portland / "groups.csv"), "lat", "lon", "city")
        + place_rows("portland", read_csv(portland / "members.csv"), "lat", "lon", "city"),
        "nyc": place_rows("nyc", read_csv(nyc / NYC_CSV), "Latitude", "Longitude", "Borough"),
    }


def event_slots(data_dir: Path) -> list[tuple[str, str]]:
    """Local weekday and start time of real Meetup events, rounded to a quarter hour."""
    slots = []
    for folder in ("meetup_london_groups", "meetup_montana"):
        for row in read_csv(data_dir / folder / "events.csv"):
            try:
                millis = int(row["time"]) + int(row["utc_offset"] or 0)
            except ValueError:
                continue
            when = datetime.fromtimestamp(millis / 1000, tz=UTC)
            if 7 <= when.hour <= 21:
                slots.append(
                    (DAYS[when.weekday()], f"{when.hour:02d}:{when.minute // 15 * 15:02d}")
                )
    return slots


def portland_member_topics(folder: Path) -> list[list[str]]:
    topics = defaultdict(list)
    for row in read_csv(folder / "member_topics.csv"):
        if (name := tag(row["topic_name"])) and name not in topics[row["member_id"]]:
            topics[row["member_id"]].append(name)
    return [names for names in topics.values() if names]


def read_sources(data_dir: Path) -> Sources:
    london, montana = data_dir / "meetup_london_groups", data_dir / "meetup_montana"
    portland, nyc = data_dir / "meetup_portland", data_dir / "nyc_service_volunteer"
    group_topics = [
        name
        for folder in (london, montana)
        for row in read_csv(folder / "groups_topics.csv")
        if (name := tag(row["name"]))
    ]
    member_topics = portland_member_topics(portland)
    # Short names ("art", "go") match too much ordinary text to be a listing's topic.
    known = frozenset(
        t for t in [*group_topics, *(n for names in member_topics for n in names)] if len(t) >= 4
    )
    templates = (
        meetup_templates(london, "london")
        + meetup_templates(montana, "montana")
        + portland_templates(portland, known)
        + nyc_templates(nyc, known)
    )
    places = real_places(data_dir)
    nyc_rows = read_csv(nyc / NYC_CSV)
    return Sources(
        templates=[t for t in templates if places[t.region]],
        places={region: np.array([p[:2] for p in rows]) for region, rows in places.items()},
        areas={region: [p[2][:80] for p in rows] for region, rows in places.items()},
        slots=event_slots(data_dir),
        member_topic_sets=member_topics,
        group_topics=group_topics,
        causes=sorted({tag(row["category_desc"]) for row in nyc_rows if row["category_desc"]}),
    )


# ---------------------------------------------------------------- generating


def jittered(point: np.ndarray, km: float, rng: np.random.Generator) -> tuple[float, float]:
    """A point a normally distributed few km away, so resampled listings do not stack up."""
    dlat, dlon = rng.normal(0.0, km, size=2) / KM_PER_DEGREE
    lat = point[0] + dlat
    return round(float(lat), 6), round(float(point[1] + dlon / np.cos(np.radians(lat))), 6)


def some_of(items, low: int, high: int, rng: np.random.Generator) -> list:
    """Between low and high distinct items, in their original order."""
    count = min(len(items), int(rng.integers(low, high + 1)))
    chosen = sorted(rng.choice(len(items), size=count, replace=False)) if count else []
    return [items[i] for i in chosen]


def weekly_slots(sources: Sources, rng: np.random.Generator) -> list[dict]:
    picks = rng.choice(len(sources.slots), size=int(rng.choice([1, 1, 1, 2])), replace=False)
    unique = {sources.slots[i] for i in picks}
    return [{"day": d, "start": s, "minutes": int(rng.choice([60, 90, 120]))} for d, s in unique]


def description(template: Template, rng: np.random.Generator) -> str:
    """A run of the real description's sentences, so copies of one template differ."""
    count = len(template.sentences)
    start = int(rng.integers(0, count // 3 + 1))
    length = int(rng.integers(max(1, (count - start) // 2), count - start + 1))
    text = " ".join(template.sentences[start : start + length]) or template.title
    return text[:4000]


def listing(index: int, template: Template, sources: Sources, rng) -> dict:
    virtual = rng.random() < 0.04
    place_index = int(rng.integers(len(sources.places[template.region])))
    lat, lon = jittered(sources.places[template.region][place_index], 1.0, rng)
    interests = some_of(list(template.interests), max(1, len(template.interests) // 2), 12, rng)
    return {
        "id": index,
        "kind": template.kind,
        "direction": "give" if template.kind == "volunteer_role" else "receive",
        "title": template.title,
        "description": description(template, rng),
        "interests": interests,
        "causes": list(template.causes),
        "is_virtual": virtual,
        "lat": None if virtual else lat,
        "lon": None if virtual else lon,
        "area": None if virtual else sources.areas[template.region][place_index],
        "weekly_slots": weekly_slots(sources, rng),
        "sessions": [],
        "group_size": str(rng.choice(SIZES, p=[0.45, 0.35, 0.2])),
        "structure": str(rng.choice(STRUCTURES, p=[0.4, 0.35, 0.25])),
        "pace": str(rng.choice(PACES, p=[0.4, 0.4, 0.2])),
        "capacity": int(rng.integers(8, 60)) if rng.random() < 0.2 else None,
        "status": str(rng.choice(["active", "paused", "closed"], p=[0.95, 0.03, 0.02])),
        "popularity": template.popularity,
    }


def build_listings(sources: Sources, count: int, rng: np.random.Generator) -> list[dict]:
    picks = rng.integers(len(sources.templates), size=count)
    return [
        listing(i + 1, sources.templates[t], sources, rng)
        for i, t in enumerate(tqdm(picks, desc="listings", unit="listing", mininterval=1))
    ]


def member_interests(sources: Sources, rng: np.random.Generator) -> list[str]:
    """Half the members take topics from a real Portland member's list, half from group topics."""
    if rng.random() < 0.5:
        own = sources.member_topic_sets[int(rng.integers(len(sources.member_topic_sets)))]
        return some_of(own, 3, 8, rng)
    picks = rng.integers(len(sources.group_topics), size=int(rng.integers(3, 9)))
    return sorted({sources.group_topics[i] for i in picks})


def availability(rng: np.random.Generator) -> list[str]:
    """Free parts of the week, leaning to evenings and weekends as people's free time does."""
    weights = np.array(
        [1.0 if d in ("sat", "sun") or p == "evening" else 0.35 for d in DAYS for p in PARTS_OF_DAY]
    )
    slots = [f"{d}_{p}" for d in DAYS for p in PARTS_OF_DAY]
    count = int(rng.integers(2, 9))
    chosen = rng.choice(len(slots), size=count, replace=False, p=weights / weights.sum())
    return [slots[i] for i in sorted(chosen)]


def profile(index: int, region: str, sources: Sources, rng: np.random.Generator) -> dict:
    place_index = int(rng.integers(len(sources.places[region])))
    lat, lon = jittered(sources.places[region][place_index], 2.0, rng)
    interests = member_interests(sources, rng)
    causes = some_of(sources.causes, 0, 2, rng) if rng.random() < 0.6 else []
    return {
        "id": index,
        "interests": interests,
        "interests_text": f"I enjoy {', '.join(interests[:2])}" if rng.random() < 0.3 else "",
        "causes": causes,
        "lat": lat,
        "lon": lon,
        "area": sources.areas[region][place_index],
        "travel_radius_km": round(float(rng.uniform(3.0, 15.0)), 1),
        "availability": availability(rng),
        "attendance": str(rng.choice(["in_person", "either", "virtual"], p=[0.85, 0.12, 0.03])),
        "comfort_group_size": str(rng.choice(SIZES)),
        "comfort_structure": str(rng.choice(STRUCTURES)),
        "comfort_pace": str(rng.choice(PACES)),
        "start_slowly": bool(rng.random() < 0.25),
        "consents": {"matching": True, "peer_introductions": bool(rng.random() < 0.6)},
    }


def build_profiles(sources: Sources, count: int, rng: np.random.Generator) -> list[dict]:
    """Members live where the listings are, in the same proportions per city."""
    share = Counter(t.region for t in sources.templates)
    regions = sorted(share)
    weights = np.array([share[r] for r in regions], dtype=float)
    picks = rng.choice(len(regions), size=count, p=weights / weights.sum())
    return [
        profile(i + 1, regions[r], sources, rng)
        for i, r in enumerate(tqdm(picks, desc="members", unit="member", mininterval=1))
    ]


def build_interactions(listings, profiles, rng: np.random.Generator) -> list[dict]:
    """About 40% of members joined 1-4 of their 40 nearest listings, favouring shared interests
    and popular groups; a third of joins were also attended (which steps "start slowly" up)."""
    from sklearn.neighbors import BallTree

    placed = [x for x in listings if x["lat"] is not None and x["status"] == "active"]
    tree = BallTree(np.radians([[x["lat"], x["lon"]] for x in placed]), metric="haversine")
    joiners = [p for p in profiles if rng.random() < 0.4]
    if not joiners or not placed:
        return []
    nearest = min(40, len(placed))
    _, found = tree.query(np.radians([[p["lat"], p["lon"]] for p in joiners]), k=nearest)
    events = []
    for member, candidates in zip(
        tqdm(joiners, desc="joins", unit="member", mininterval=1), found, strict=True
    ):
        events += member_joins(member, [placed[i] for i in candidates], rng)
    return events


def member_joins(member: dict, nearby: list[dict], rng: np.random.Generator) -> list[dict]:
    mine = set(member["interests"])
    appeal = np.array(
        [(len(mine & set(x["interests"])) + 0.2) * np.sqrt(1 + x["popularity"]) for x in nearby]
    )
    count = min(len(nearby), int(rng.integers(1, 5)))
    chosen = rng.choice(len(nearby), size=count, replace=False, p=appeal / appeal.sum())
    events = []
    for i in chosen:
        events.append({"member_id": member["id"], "listing_id": nearby[i]["id"], "kind": "joined"})
        if rng.random() < 0.33:
            events.append(
                {"member_id": member["id"], "listing_id": nearby[i]["id"], "kind": "attended"}
            )
    return events


def build(data_dir: Path, listings: int, members: int, seed: int) -> Catalogue:
    rng = np.random.default_rng(seed)
    sources = read_sources(data_dir)
    built_listings = build_listings(sources, listings, rng)
    built_profiles = build_profiles(sources, members, rng)
    interactions = build_interactions(built_listings, built_profiles, rng)
    summary = {
        "templates": dict(Counter(t.region for t in sources.templates)),
        "places": {region: len(points) for region, points in sources.places.items()},
        "event_slots": len(sources.slots),
        "member_topic_sets": len(sources.member_topic_sets),
        "joins": sum(1 for e in interactions if e["kind"] == "joined"),
        "joining_members": len({e["member_id"] for e in interactions}),
    }
    return Catalogue(built_listings, built_profiles, interactions, summary)


def cache_path(listings: int, members: int, seed: int) -> Path:
    name = f"catalogue-v{CATALOGUE_VERSION}-L{listings}-M{members}-s{seed}.pkl"
    return common.CACHE_DIR / name


def load_or_build(data_dir: Path, listings: int, members: int, seed: int) -> Catalogue:
    path = cache_path(listings, members, seed)
    if path.exists():
        print(f"loading cached catalogue {path.name}", flush=True)
        with path.open("rb") as handle:
            return pickle.load(handle)
    print(f"building catalogue from {data_dir} ...", flush=True)
    catalogue = build(data_dir, listings, members, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as handle:
        pickle.dump(catalogue, handle, protocol=pickle.HIGHEST_PROTOCOL)
    temporary.replace(path)  # a run killed half-way never leaves a truncated cache behind
    return catalogue


def main() -> None:
    args = common.parser(__doc__.splitlines()[0]).parse_args()
    catalogue = common.catalogue(args)
    print(
        f"{len(catalogue.listings):,} listings, {len(catalogue.profiles):,} members, "
        f"{len(catalogue.interactions):,} interactions"
    )
    print(catalogue.summary)


if __name__ == "__main__":
    main()
