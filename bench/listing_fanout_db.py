"""The fan-out of one new listing to 100,000 members, from the database.

Target (issue 4): <= 5 s. The database holds the demo catalogue and --members members, all of
them in the listing's city and consenting to matching (every one of them is a candidate: the
worst case). What is timed is the `ListingPublished` handler as a worker runs it, after the
worker's parent has fitted the matchers and indexed every consenting member (as it does before
each matching job when data changed): scoring all of them, then reading the best from the
database and writing their suggestions and notifications (at most 200). That refit, which a
new listing causes today, is timed separately.

Baseline, in the same run: the matcher's scoring of the same listing against the same indexed
members, in memory (no database, no writes): the floor the handler can approach. How long
indexing the members from profiles in memory takes is printed beside it.

    python -m bench.listing_fanout_db [--members 100000]

Runs on the embedded default (SQLite in a temporary folder), or on an empty database named with
--database-url (given explicitly, never taken from the environment: the benchmark fills it).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common

TARGET_S = 5.0
INSERT_BATCH = 5000
NEW_LISTING = {
    "kind": "club",
    "direction": "receive",
    "title": "Saturday community garden",
    "description": "Growing vegetables together, tea and cake after. Beginners welcome.",
    "interests": ["gardening", "food", "nature"],
    "causes": ["environment", "community"],
    "lat": 51.4600,
    "lon": -2.5900,
    "area": "Easton",
    "weekly_slots": [{"day": "sat", "start": "10:00", "minutes": 120}],
    "timezone": "Europe/London",
    "group_size": "small",
    "structure": "structured",
    "pace": "low_key",
    "capacity": 20,
}


def wired(folder: Path, database_url: str | None = None):
    from service.adapters.migrations import upgrade
    from service.bootstrap import bootstrap
    from service.config import Settings

    database = database_url or f"sqlite:///{folder / 'bench.db'}"
    upgrade(database)
    settings = Settings(database_url=database, redis_url="embedded", secret_key="b", var_dir=folder)
    return bootstrap(settings)


def add_members(kindred, count: int) -> None:
    """Members as sign-up makes them (demo personas around Bristol), inserted in batches."""
    from service.adapters.orm import Member, pop_tags, utcnow
    from service.demo.seed import member_payload

    rng = random.Random(5)
    now = utcnow()
    with tqdm(total=count, desc="members", unit="member") as progress:
        for start in range(0, count, INSERT_BATCH):
            with kindred.uow(publish=False) as uow:
                for number in range(start, min(count, start + INSERT_BATCH)):
                    data = member_payload(number, rng)
                    data.pop("consents")
                    tags = pop_tags(data)
                    token = hashlib.sha256(f"bench-{number}".encode()).hexdigest()
                    uow.session.add(
                        Member(
                            token_hash=token,
                            tags=Member.tag_rows(tags),
                            consent_matching=True,
                            consent_matching_at=now,
                            **data,
                        )
                    )
                uow.commit()
            progress.update(min(count, start + INSERT_BATCH) - start)


def publish_listing(kindred) -> tuple[int, int]:
    """(listing id, its ListingPublished event id), recorded as the API would, not yet handled."""
    import sqlalchemy as sa

    from service.adapters.orm import Organization, OutboxEvent
    from service.api.listings import ListingWriteSchema, json_safe_schedule
    from service.domain.credentials import Principal, Role
    from service.services import listings

    with kindred.uow() as uow:
        org_id = uow.session.scalar(sa.select(Organization.id).where(Organization.verified))
    payload = json_safe_schedule(ListingWriteSchema().load(NEW_LISTING))
    listing = listings.create_listing(
        kindred.uow(publish=False), Principal(Role.PARTNER, org_id), payload
    )
    with kindred.uow() as uow:
        event_id = uow.session.scalar(
            sa.select(OutboxEvent.id).where(
                OutboxEvent.kind == "ListingPublished",
                OutboxEvent.subject == f"listing:{listing.id}",
            )
        )
    return listing.id, event_id


def in_memory_scoring(kindred, listing_id: int) -> tuple[float, float, int]:
    """The baseline: (scoring seconds, indexing seconds, members), all in memory."""
    from service.adapters.matcher_source import consenting_profiles, listing_record

    with kindred.uow() as uow:
        record = listing_record(uow.listings.get(listing_id))
        profiles = consenting_profiles(uow.session)
        fitted = kindred.matchers.get(uow.session)
    started = time.perf_counter()
    fitted.group.score_new_listing(record, fitted.members)
    scoring_s = time.perf_counter() - started
    started = time.perf_counter()
    fitted.group.index_members(profiles)
    return scoring_s, time.perf_counter() - started, len(profiles)


def main() -> dict:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument("--members", type=int, default=100_000)
    parse.add_argument("--database-url", help="an empty database to fill instead of SQLite")
    parse.add_argument("--json", type=Path)
    args = parse.parse_args()
    from service.demo.seed import seed_demo
    from service.services import fanout

    with tempfile.TemporaryDirectory(prefix="kindred-fanout-") as folder:
        kindred = wired(Path(folder), args.database_url)
        seed_demo(kindred, member_count=0)
        add_members(kindred, args.members)
        listing_id, event_id = publish_listing(kindred)
        print("fitting the matchers (a worker's parent does this before the job) ...", flush=True)
        started = time.perf_counter()
        with kindred.uow() as uow:
            kindred.matchers.get(uow.session)
        refit_s = time.perf_counter() - started
        started = time.perf_counter()
        outcome = fanout.on_listing_published(kindred, event_id, listing_id)
        handler_s = time.perf_counter() - started
        baseline_s, index_s, scored = in_memory_scoring(kindred, listing_id)
        kindred.close()
    print(f"handler: {outcome}")
    figure = common.measurement(
        "listing_fanout_db.handler_s",
        handler_s,
        "s",
        TARGET_S,
        baseline=baseline_s,
        members_scored=scored,
        index_members_in_memory_s=round(index_s, 2),
        outcome=outcome,
        refit_after_new_listing_s=round(refit_s, 2),
    )
    args.listings, args.seed = 0, None
    return common.report("listing_fanout_db", args, [figure])


if __name__ == "__main__":
    main()
