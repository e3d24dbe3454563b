"""`kindred seed-demo`: fill an empty database with the invented city, through the use cases.

Going through the same services as the API means demo data obeys every rule real data does.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from tqdm import tqdm

from service.bootstrap import Kindred
from service.demo.catalogue import (
    FIRST_NAMES,
    LAST_INITIALS,
    LISTING_TEMPLATES,
    NEIGHBOURHOODS,
    ORGANIZATIONS,
    PERSONAS,
)
from service.demo.history import add_history
from service.domain.credentials import Principal, Role
from service.domain.vocabulary import DayPart, Weekday, values_of
from service.services import coordinators, listings, members, organizations

DEMO_COORDINATOR = {
    "email": "coordinator@kindred.example",
    "display_name": "Demo Coordinator",
    "password": "kindred-demo",
}
SLOTS = [f"{day}_{part}" for day in values_of(Weekday) for part in values_of(DayPart)]
VIRTUAL_TITLES = {"Telephone befriender", "Online anxiety peer group"}


@dataclass
class DemoCredentials:
    coordinator: dict
    partner_keys: dict[str, str] = field(default_factory=dict)
    member_tokens: dict[str, str] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.__dict__, handle, indent=2)


def credentials_path(kindred: Kindred) -> Path:
    return kindred.settings.var_dir / "demo-credentials.json"


def is_seeded(kindred: Kindred) -> bool:
    with kindred.uow() as uow:
        return bool(uow.organizations.list())


def seed_demo(
    kindred: Kindred,
    member_count: int = 300,
    listing_count: int = 60,
    seed: int = 7,
    progress: bool = True,
) -> DemoCredentials:
    rng = random.Random(seed)
    account = coordinators.create_coordinator(kindred.uow(), **DEMO_COORDINATOR)
    coordinator = Principal(Role.COORDINATOR, account.coordinator.id)
    creds = DemoCredentials(coordinator={**DEMO_COORDINATOR, "token": account.token})
    org_ids = _seed_organizations(kindred, coordinator, creds)
    _seed_listings(kindred, coordinator, org_ids, listing_count, rng, progress)
    _seed_members(kindred, creds, member_count, rng, progress)
    with tqdm(total=3, desc="history", disable=not progress) as bar:
        add_history(kindred, seed=seed + 1, progress=bar)
    creds.save(credentials_path(kindred))
    return creds


def _seed_organizations(kindred: Kindred, coordinator: Principal, creds: DemoCredentials):
    org_ids = {}
    for data in ORGANIZATIONS:
        organization, new_key = organizations.create_organization(
            kindred.uow(), coordinator, dict(data)
        )
        org_ids[organization.name] = organization.id
        creds.partner_keys[organization.name] = new_key.secret
    return org_ids


def _listing_payloads(listing_count: int, rng: random.Random):
    """Each template once in a first neighbourhood, then again elsewhere until the count is met."""
    places = list(NEIGHBOURHOODS)
    for index in range(listing_count):
        template = LISTING_TEMPLATES[index % len(LISTING_TEMPLATES)]
        (
            org,
            kind,
            direction,
            title,
            description,
            interests,
            causes,
            size,
            structure,
            pace,
            slot,
            access,
        ) = template
        area = places[(index * 5 + index // len(LISTING_TEMPLATES)) % len(places)]
        lat, lon = NEIGHBOURHOODS[area]
        is_virtual = title in VIRTUAL_TITLES
        payload = {
            "kind": kind,
            "direction": direction,
            "title": title,
            "description": description,
            "interests": interests,
            "causes": causes,
            "group_size": size,
            "structure": structure,
            "pace": pace,
            "accessibility": access,
            "is_virtual": is_virtual,
            "languages": ["en"],
            "capacity": {"small": 8, "medium": 20, "large": 60}[size],
            "lat": None if is_virtual else round(lat + rng.uniform(-0.004, 0.004), 5),
            "lon": None if is_virtual else round(lon + rng.uniform(-0.006, 0.006), 5),
            "area": None if is_virtual else area,
            "weekly_slots": [{"day": slot[0], "start": slot[1], "minutes": slot[2]}]
            if slot
            else [{"day": rng.choice(["mon", "wed"]), "start": "11:00", "minutes": 30}],
            "sessions": [],
            "timezone": "Europe/London",
        }
        if index >= len(LISTING_TEMPLATES):
            payload["title"] = f"{title} ({area})" if not is_virtual else f"{title} (evening)"
        yield org, payload


def _seed_listings(kindred, coordinator, org_ids, listing_count, rng, progress):
    from service.domain.vocabulary import Direction, GroupSize, ListingKind, Pace, Structure

    enums = {
        "kind": ListingKind,
        "direction": Direction,
        "group_size": GroupSize,
        "structure": Structure,
        "pace": Pace,
    }
    payloads = list(_listing_payloads(listing_count, rng))
    # Each unverified partner's last two listings stay in the review queue, to show it.
    last_of_org = {org: index for index, (org, _) in enumerate(payloads)}
    second_last_of_org = {
        org: index for index, (org, _) in enumerate(payloads) if index != last_of_org[org]
    }
    left_for_review = set(last_of_org.values()) | set(second_last_of_org.values())
    for index, (org, payload) in enumerate(tqdm(payloads, desc="listings", disable=not progress)):
        for name, enum in enums.items():
            payload[name] = enum(payload[name])
        partner = Principal(Role.PARTNER, org_ids[org])
        listing = listings.create_listing(kindred.uow(), partner, payload)
        if listing.status.value == "pending_review" and index not in left_for_review:
            listings.review_listing(kindred.uow(), coordinator, listing.id, True, None)


def _seed_members(kindred, creds, member_count, rng, progress):
    for number in tqdm(range(member_count), desc="members", disable=not progress):
        signed_up = members.sign_up(kindred.uow(), member_payload(number, rng))
        if number < 3:
            creds.member_tokens[signed_up.member.display_name] = signed_up.token
    _age_some_members(kindred)


def _age_some_members(kindred) -> None:
    """A demo city is not born today: one member in five joined weeks ago and has been quiet
    since, so the dashboard's weekly charts and "went quiet" list have something to show."""
    import sqlalchemy as sa

    from service.adapters.orm import Member, utcnow

    with kindred.uow(publish=False) as uow:
        for weeks in range(1, 11):
            back = utcnow() - timedelta(weeks=weeks, days=1)
            uow.session.execute(
                sa.update(Member)
                .where(Member.id % 50 == weeks * 5 % 50)
                .values(created_at=back, last_active_at=back, updated_at=Member.updated_at)
            )
        uow.commit()


def member_payload(number: int, rng: random.Random) -> dict:
    from service.domain.vocabulary import Attendance, GroupSize, Pace, Structure

    persona = rng.choice(PERSONAS)
    second = rng.choice(PERSONAS)
    interests = rng.sample(
        persona["interests"], k=min(len(persona["interests"]), rng.randint(2, 4))
    )
    if rng.random() < 0.4:
        interests.append(rng.choice(second["interests"]))
    causes = rng.sample(persona["causes"], k=rng.randint(1, len(persona["causes"])))
    area = rng.choice(list(NEIGHBOURHOODS))
    lat, lon = NEIGHBOURHOODS[area]
    first = FIRST_NAMES[number % len(FIRST_NAMES)]
    initial = LAST_INITIALS[(number // len(FIRST_NAMES) + number) % len(LAST_INITIALS)]
    start_slowly = rng.random() < 0.25
    evenings_and_weekends = [
        s for s in SLOTS if s.endswith("evening") or s.startswith(("sat", "sun"))
    ]
    pool = evenings_and_weekends if rng.random() < 0.6 else SLOTS
    return {
        "display_name": f"{first} {initial}.",
        "email": f"{first.lower()}.{initial.lower()}.{number}@members.example",
        "interests": sorted(set(interests)),
        "interests_text": rng.choice(persona["texts"]),
        "causes": causes,
        "lat": round(lat + rng.uniform(-0.006, 0.006), 5),
        "lon": round(lon + rng.uniform(-0.009, 0.009), 5),
        "area": area,
        "travel_radius_km": rng.choice([2.0, 3.0, 5.0, 5.0, 8.0, 10.0]),
        "availability": sorted(rng.sample(pool, k=rng.randint(3, 8))),
        "attendance": rng.choices(
            [Attendance.IN_PERSON, Attendance.EITHER, Attendance.VIRTUAL], [85, 10, 5]
        )[0],
        "languages": ["en"] + (["es"] if rng.random() < 0.1 else []),
        "comfort_group_size": GroupSize.SMALL if start_slowly else rng.choice(list(GroupSize)),
        "comfort_structure": Structure.STRUCTURED if start_slowly else rng.choice(list(Structure)),
        "comfort_pace": Pace.LOW_KEY if start_slowly else rng.choice(list(Pace)),
        "start_slowly": start_slowly,
        "notify_channels": ["in_app"] + (["email"] if rng.random() < 0.5 else []),
        "digest_day": rng.choice(list(Weekday)),
        "timezone": "Europe/London",
        "max_notifications_per_week": rng.choice([1, 2, 3, 3, 5]),
        "consents": {
            "matching": rng.random() < 0.92,
            "peer_introductions": rng.random() < 0.6,
            # From the member number, not the random stream: earlier figures stay the same.
            "coordinator_contact": number % 3 == 0,
        },
    }
