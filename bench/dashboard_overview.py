"""Server time of the coordinator dashboard's overview at 100,000 members and 10,000 listings.

Target (issue 5): <= 300 ms. The database holds --members members (with tags and consents),
--listings listings, and eight weeks of history as a busy service would have it: five group
suggestions per member spread over the weeks, about 40% of them answered, introductions,
notifications and email deliveries. What is timed is `GET /dashboard` through the real app
(Flask test client, signed in as a coordinator): every SQL aggregate, the charts, the template,
the security headers. Redis answers the queue depths (embedded).

Baseline, in the same run: `GET /dashboard/login`, the same app serving a page with no query
(session, CSRF token, template, headers): the floor any page pays.

    python -m bench.dashboard_overview [--members 100000 --listings 10000]

Runs on SQLite in a temporary folder, or on an empty database named with --database-url (given
explicitly, never taken from the environment: the benchmark fills it).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from tqdm import tqdm

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common

TARGET_MS = 300.0
BATCH = 20_000
SUGGESTIONS_PER_MEMBER = 5
WEEKS = 8
INTERESTS = [
    "walking",
    "gardening",
    "chess",
    "choir",
    "books",
    "cooking",
    "running",
    "art",
    "crafts",
    "history",
    "languages",
    "cycling",
    "photography",
    "yoga",
    "football",
]
CAUSES = ["environment", "community", "older people", "refugees", "animals", "youth"]
AREAS = ["Clifton", "Redland", "Easton", "Bedminster", "Fishponds", "Horfield", "Knowle"]


def wired(folder: Path, database_url: str | None):
    from service.adapters.migrations import upgrade
    from service.adapters.redis_connection import socket_url, start_embedded
    from service.bootstrap import bootstrap
    from service.config import Settings

    database = database_url or f"sqlite:///{folder / 'bench.db'}"
    upgrade(database)
    redis = start_embedded(folder)
    settings = Settings(
        database_url=database, redis_url=socket_url(redis), secret_key="b", var_dir=folder
    )
    return bootstrap(settings), redis


def insert_in_batches(kindred, model, rows, total: int, label: str) -> None:
    import sqlalchemy as sa

    with tqdm(total=total, desc=label, unit="row") as progress:
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                _flush(kindred, sa.insert(model), batch, progress)
                batch = []
        if batch:
            _flush(kindred, sa.insert(model), batch, progress)


def _flush(kindred, statement, batch, progress) -> None:
    with kindred.engine.begin() as connection:
        connection.execute(statement, batch)
    progress.update(len(batch))


def fill(kindred, members: int, listings: int) -> None:
    """Rows written straight to the tables (not through the use cases: 100,000 sign-ups would
    take an hour), shaped as the use cases write them."""
    from service.adapters.orm import (
        Introduction,
        Listing,
        ListingTag,
        Member,
        MemberTag,
        Notification,
        NotificationDelivery,
        Organization,
        Suggestion,
        utcnow,
    )

    rng = random.Random(11)
    now = utcnow()
    with kindred.engine.begin() as connection:
        import sqlalchemy as sa

        connection.execute(
            sa.insert(Organization),
            [{"name": f"Org {n}", "contact_email": f"o{n}@example.org"} for n in range(200)],
        )
    insert_in_batches(
        kindred, Member, (_member(n, rng, now) for n in range(members)), members, "members"
    )
    insert_in_batches(
        kindred,
        MemberTag,
        (
            {"member_id": n + 1, "kind": kind, "tag": tag}
            for n in range(members)
            for kind, tag in _tags(rng)
        ),
        members * 3,
        "member tags",
    )
    insert_in_batches(
        kindred, Listing, (_listing(n, rng, now) for n in range(listings)), listings, "listings"
    )
    insert_in_batches(
        kindred,
        ListingTag,
        (
            {"listing_id": n + 1, "kind": kind, "tag": tag}
            for n in range(listings)
            for kind, tag in _tags(rng)
        ),
        listings * 3,
        "listing tags",
    )
    total = members * SUGGESTIONS_PER_MEMBER
    insert_in_batches(
        kindred, Suggestion, _suggestions(members, listings, rng, now), total, "suggestions"
    )
    _record_good_matches(kindred)
    insert_in_batches(
        kindred, Introduction, _introductions(members, rng, now), members // 5, "introductions"
    )
    insert_in_batches(
        kindred, Notification, _notifications(members, rng, now), members * 2, "notifications"
    )
    insert_in_batches(
        kindred,
        NotificationDelivery,
        (
            {
                "notification_id": n + 1,
                "channel": "email",
                "status": "failed" if n % 50 == 0 else "sent",
                "sent_at": now - timedelta(days=rng.uniform(0, 7 * WEEKS)),
            }
            for n in range(0, members * 2, 4)
        ),
        members // 2,
        "email deliveries",
    )


def _record_good_matches(kindred) -> None:
    """members.last_good_match_at, as the matching jobs would have kept it."""
    import sqlalchemy as sa

    from service.adapters.orm import Member, Suggestion
    from service.services.members import GOOD_MATCH_SCORE

    good = (
        sa.select(Suggestion.member_id, sa.func.max(Suggestion.created_at).label("latest"))
        .where(Suggestion.kind == "group", Suggestion.score >= GOOD_MATCH_SCORE)
        .group_by(Suggestion.member_id)
        .subquery()
    )
    with kindred.engine.begin() as connection:
        connection.execute(
            sa.update(Member)
            .values(last_good_match_at=good.c.latest)
            .where(Member.id == good.c.member_id)
        )


def _member(n: int, rng: random.Random, now) -> dict:
    return {
        "display_name": f"Member {n}",
        "email": f"member{n}@example.org",
        "token_hash": f"{n:064x}",
        "lat": 51.45 + rng.uniform(-0.05, 0.05),
        "lon": -2.59 + rng.uniform(-0.07, 0.07),
        "area": rng.choice(AREAS),
        "start_slowly": rng.random() < 0.2,
        "consent_matching": rng.random() < 0.9,
        # Introductions (below, for two fifths of the members) need both sides to consent.
        "consent_peer_introductions": True,
        "consent_coordinator_contact": rng.random() < 0.5,
        "created_at": now - timedelta(days=rng.uniform(0, 7 * WEEKS + 30)),
        "last_active_at": now - timedelta(days=rng.uniform(0, 90)),
    }


def _listing(n: int, rng: random.Random, now) -> dict:
    return {
        "organization_id": 1 + n % 200,
        "kind": rng.choice(["club", "interest_group", "class", "volunteer_role"]),
        "direction": rng.choice(["give", "receive"]),
        "title": f"Listing {n}",
        "description": "A benchmark listing.",
        "lat": 51.45 + rng.uniform(-0.05, 0.05),
        "lon": -2.59 + rng.uniform(-0.07, 0.07),
        "area": rng.choice(AREAS),
        "group_size": rng.choice(["small", "medium", "large"]),
        "structure": rng.choice(["structured", "mixed", "open_social"]),
        "pace": rng.choice(["low_key", "moderate", "high_energy"]),
        "capacity": rng.choice([None, 10, 20, 40]),
        "status": "pending_review" if n % 100 == 0 else "active",
        "status_changed_by": "coordinator:1",
    }


def _tags(rng: random.Random) -> list[tuple[str, str]]:
    interests = rng.sample(INTERESTS, 2)
    return [("interest", interests[0]), ("interest", interests[1]), ("cause", rng.choice(CAUSES))]


def _suggestions(members: int, listings: int, rng: random.Random, now):
    for member in range(1, members + 1):
        for k in range(SUGGESTIONS_PER_MEMBER):
            listing = 1 + (member * 7 + k * 131) % listings
            created = now - timedelta(days=rng.uniform(0, 7 * WEEKS))
            answer = rng.random()
            status = "yes" if answer < 0.25 else "no" if answer < 0.4 else "open"
            yield {
                "member_id": member,
                "kind": "group",
                "target": f"listing:{listing}",
                "listing_id": listing,
                "cycle": f"2026-W{k:02d}",
                "score": rng.uniform(0.2, 0.95),
                "status": status,
                "created_at": created,
                "answered_at": created + timedelta(days=1) if status != "open" else None,
            }


def _introductions(members: int, rng: random.Random, now):
    for n in range(members // 5):
        low = 1 + 2 * n
        yield {
            "member_low_id": low,
            "member_high_id": low + 1,
            "status": "introduced",
            "introduced_at": now - timedelta(days=rng.uniform(0, 7 * WEEKS)),
        }


def _notifications(members: int, rng: random.Random, now):
    for n in range(members * 2):
        yield {
            "member_id": 1 + n % members,
            "kind": "matches_ready",
            "subject": f"match_request:{n}",
            "cycle": "2026-W48",
            "title": "New suggestions",
            "body": "You have new suggestions.",
            "created_at": now - timedelta(days=rng.uniform(0, 7 * WEEKS)),
        }


def signed_in_client(kindred):
    from service.app import create_app
    from service.services.coordinators import create_coordinator
    from tests.integration.pages.conftest import PageClient

    create_coordinator(kindred.uow(), "bench@example.org", "Bench", "a long password")
    client = PageClient(create_app(kindred=kindred))
    client.get("/dashboard/login")
    client.post("/dashboard/login", {"email": "bench@example.org", "password": "a long password"})
    return client


def time_page(client, path: str, repeats: int) -> list[float]:
    for _ in range(3):  # warm: compiled statements, template cache, connection pool
        assert client.get(path).status_code == 200, path
    seconds = []
    for _ in tqdm(range(repeats), desc=f"GET {path}", unit="request"):
        started = time.perf_counter()
        response = client.get(path)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200
    return seconds


def main() -> dict:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument("--members", type=int, default=100_000)
    parse.add_argument("--listings", type=int, default=10_000)
    parse.add_argument("--repeats", type=int, default=30)
    parse.add_argument("--database-url", help="an empty database to fill instead of SQLite")
    parse.add_argument("--json", type=Path)
    args = parse.parse_args()
    with tempfile.TemporaryDirectory(prefix="kindred-dashboard-") as folder:
        kindred, redis = wired(Path(folder), args.database_url)
        try:
            fill(kindred, args.members, args.listings)
            _analyze(kindred)
            client = signed_in_client(kindred)
            overview = time_page(client, "/dashboard", args.repeats)
            floor = time_page(client, "/dashboard/login", args.repeats)
        finally:
            kindred.close()
            redis.shutdown()
    figure = common.measurement(
        "dashboard_overview.median_ms",
        common.median_ms(overview),
        "ms",
        TARGET_MS,
        baseline=common.median_ms(floor),
        p95_ms=round(common.percentile_ms(overview, 0.95), 1),
        max_ms=round(max(overview) * 1000, 1),
        requests=len(overview),
        database="postgresql" if args.database_url else "sqlite",
    )
    args.seed = None
    return common.report("dashboard_overview", args, [figure])


def _analyze(kindred) -> None:
    """The state a running database is in: planner statistics, and on PostgreSQL the visibility
    map that autovacuum keeps (without it no index-only scan can skip the table)."""
    import sqlalchemy as sa

    if kindred.engine.dialect.name == "postgresql":
        with kindred.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("VACUUM ANALYZE"))
        return
    with kindred.engine.begin() as connection:
        connection.execute(sa.text("ANALYZE"))


if __name__ == "__main__":
    main()
