"""Turning listings and profiles (plain dicts) into numbers the matcher can score.

Shared by the group and peer matchers so both read a profile the same way.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np

EARTH_RADIUS_KM = 6371.0088
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PARTS = ("morning", "afternoon", "evening")
SLOTS = tuple(f"{day}_{part}" for day in DAYS for part in PARTS)
SLOT_INDEX = {slot: index for index, slot in enumerate(SLOTS)}

# Comfort dimensions as ordinals: 0 is the gentlest end (small, structured, low-key).
GROUP_SIZE = {"small": 0, "medium": 1, "large": 2}
STRUCTURE = {"structured": 0, "mixed": 1, "open_social": 2}
PACE = {"low_key": 0, "moderate": 1, "high_energy": 2}
COMFORT_WORDS = (
    {0: "small", 1: "medium-sized", 2: "large"},
    {0: "structured", 1: "partly structured", 2: "open, social"},
    {0: "low-key", 1: "moderately paced", 2: "lively"},
)


def tag_token(tag: str) -> str:
    """A tag as one token ("board games" -> "board_games"), so multi-word tags stay whole."""
    return "tag_" + re.sub(r"\W+", "_", tag.strip().lower()).strip("_")


def listing_interest_text(listing: dict) -> str:
    tags = listing.get("interests") or []
    return " ".join(
        [listing.get("title") or "", listing.get("description") or "", *tags]
        + [tag_token(tag) for tag in tags]
    )


def listing_cause_text(listing: dict) -> str:
    causes = listing.get("causes") or []
    return " ".join([*causes, *(tag_token(cause) for cause in causes)])


def profile_interest_text(profile: dict) -> str:
    tags = profile.get("interests") or []
    return " ".join([*tags, *(tag_token(tag) for tag in tags), profile.get("interests_text") or ""])


def profile_cause_text(profile: dict) -> str:
    causes = profile.get("causes") or []
    return " ".join([*causes, *(tag_token(cause) for cause in causes)])


def part_of_day(hour: int) -> str:
    if hour < 12:
        return "morning"
    return "afternoon" if hour < 17 else "evening"


def listing_slots(listing: dict) -> set[str]:
    """The parts of the week a listing meets, from weekly slots and dated sessions."""
    slots = set()
    for slot in listing.get("weekly_slots") or []:
        slots.add(f"{slot['day']}_{part_of_day(int(slot['start'][:2]))}")
    for session in listing.get("sessions") or []:
        starts = session["starts_at"]
        when = datetime.fromisoformat(starts) if isinstance(starts, str) else starts
        slots.add(f"{DAYS[when.weekday()]}_{part_of_day(when.hour)}")
    return slots


def slot_vector(slots) -> np.ndarray:
    vector = np.zeros(len(SLOTS), dtype=np.float32)
    for slot in slots:
        if slot in SLOT_INDEX:
            vector[SLOT_INDEX[slot]] = 1.0
    return vector


def listing_comfort(listing: dict) -> np.ndarray:
    return np.array(
        [
            GROUP_SIZE.get(listing.get("group_size"), 1),
            STRUCTURE.get(listing.get("structure"), 1),
            PACE.get(listing.get("pace"), 1),
        ],
        dtype=np.float32,
    )


def profile_comfort(profile: dict, step: int = 0) -> np.ndarray:
    """The comfort a member is ready for now.

    "Start slowly" caps each dimension at the member's current step (0: small, structured,
    low-key), which rises as they accept and attend; it never exceeds what they said they like.
    """
    preferred = np.array(
        [
            GROUP_SIZE.get(profile.get("comfort_group_size"), 0),
            STRUCTURE.get(profile.get("comfort_structure"), 0),
            PACE.get(profile.get("comfort_pace"), 0),
        ],
        dtype=np.float32,
    )
    if profile.get("start_slowly"):
        return np.minimum(preferred, float(step))
    return preferred


def comfort_fit(listing_levels: np.ndarray, wanted: np.ndarray, start_slowly: bool) -> np.ndarray:
    """1 when a listing matches the comfort wanted, falling with each step away.

    For a "start slowly" member a listing bigger, looser or livelier than they are ready for
    costs twice as much as one that is gentler than they asked.
    """
    difference = listing_levels - wanted
    if start_slowly:
        difference = np.where(difference > 0, 2 * difference, -difference)
    else:
        difference = np.abs(difference)
    return np.clip(1.0 - difference.mean(axis=-1) / 2.0, 0.0, 1.0)


def haversine_km(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def has_place(record: dict) -> bool:
    return record.get("lat") is not None and record.get("lon") is not None
