"""Small, hand-made listings and profiles for matcher tests (plain dicts, as the API shapes)."""

from __future__ import annotations

EASTON = (51.462, -2.566)
CLIFTON = (51.4545, -2.62)
FAR_AWAY = (53.48, -2.24)  # Manchester


def listing(listing_id, title, interests, causes=(), where=EASTON, **extra) -> dict:
    record = {
        "id": listing_id,
        "kind": "club",
        "direction": "receive",
        "title": title,
        "description": f"{title}. Friendly people, all welcome.",
        "interests": list(interests),
        "causes": list(causes),
        "is_virtual": False,
        "lat": where[0],
        "lon": where[1],
        "area": "Easton",
        "weekly_slots": [{"day": "sat", "start": "10:00", "minutes": 90}],
        "sessions": [],
        "group_size": "small",
        "structure": "structured",
        "pace": "low_key",
        "capacity": None,
        "status": "active",
    }
    record.update(extra)
    return record


def profile(member_id, interests, causes=(), where=EASTON, **extra) -> dict:
    record = {
        "id": member_id,
        "interests": list(interests),
        "interests_text": "",
        "causes": list(causes),
        "lat": where[0],
        "lon": where[1],
        "travel_radius_km": 5.0,
        "availability": ["sat_morning", "wed_evening"],
        "attendance": "in_person",
        "comfort_group_size": "small",
        "comfort_structure": "structured",
        "comfort_pace": "low_key",
        "start_slowly": False,
        "consents": {"matching": True, "peer_introductions": True},
    }
    record.update(extra)
    return record


def catalogue() -> list[dict]:
    return [
        listing(1, "Book circle", ["reading", "books"], ["literacy"]),
        listing(2, "Poetry evening", ["poetry", "books"], ["arts"]),
        listing(3, "Tree planting", ["gardening", "trees"], ["environment"]),
        listing(4, "Allotment group", ["gardening", "food"], ["environment"]),
        listing(5, "Chess club", ["chess", "games"], []),
        listing(
            6,
            "Online knitting",
            ["knitting", "crafts"],
            [],
            where=(None, None),
            is_virtual=True,
            area=None,
        ),
        listing(7, "Far away hikes", ["hiking", "walking"], ["health"], where=FAR_AWAY),
        listing(8, "Closed reading room", ["reading", "books"], ["literacy"], status="closed"),
        listing(
            9,
            "Big loud book party",
            ["reading", "books"],
            ["literacy"],
            group_size="large",
            structure="open_social",
            pace="high_energy",
        ),
        listing(
            10, "Choir", ["singing", "music"], ["arts"], structure="mixed", group_size="medium"
        ),
    ]
