"""Reasons in plain words, built from the signals that produced a suggestion.

A reason speaks about the member's own profile and the listing's public fields, never about
anyone else's private fields.
"""

from __future__ import annotations

from service.matching.features import COMFORT_WORDS, DAYS, PARTS

DAY_NAMES = dict(
    zip(
        DAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)


def join_words(words: list[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def listing_reasons(
    listing: dict,
    shared_interest_tags: list[str],
    mentioned_terms: list[str],
    shared_causes: list[str],
    distance_km: float | None,
    common_slots: list[str],
    comfort_levels,
    comfort_fit: float,
    start_slowly: bool,
    similar_people_joined: bool,
) -> list[str]:
    reasons = []
    if shared_interest_tags:
        reasons.append(f"matches your interest in {join_words(shared_interest_tags[:3])}")
    elif mentioned_terms:
        reasons.append(f"about {join_words(mentioned_terms[:3])}, which you mentioned")
    if shared_causes:
        reasons.append(f"works for {join_words(shared_causes[:2])}, a cause you care about")
    if listing.get("is_virtual"):
        reasons.append("meets online, as you asked")
    elif distance_km is not None:
        area = f" in {listing['area']}" if listing.get("area") else ""
        reasons.append(f"{_distance_words(distance_km)} from you{area}")
    if common_slots:
        reasons.append(
            f"meets on {join_words([_slot_words(s) for s in common_slots[:2]])}, when you are free"
        )
    if comfort_fit >= 0.8:
        words = [COMFORT_WORDS[d][int(level)] for d, level in enumerate(comfort_levels)]
        opener = "a gentle first step: " if start_slowly and comfort_levels.max() == 0 else ""
        reasons.append(
            f"{opener}a {words[0]}, {words[1]} group at a {words[2]} pace".replace(
                "a low-key pace", "an easy pace"
            )
        )
    if similar_people_joined:
        reasons.append("people with similar interests joined")
    if listing.get("direction") == "give":
        reasons.append("a chance to give your time")
    return reasons or ["one of the closest fits to your profile"]


def _distance_words(km: float) -> str:
    if km < 1:
        return "under 1 km"
    return f"about {km:.0f} km" if km >= 10 else f"about {km:.1f} km"


def _slot_words(slot: str) -> str:
    day, part = slot.split("_")
    assert part in PARTS
    return f"{DAY_NAMES[day]} {part}s"
