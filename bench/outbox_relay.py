"""Outbox relay throughput: events recorded in the database, then handed to RQ as jobs.

Target (issue 4): >= 1,000 events/s through the outbox. Baseline, in the same run against the
same Redis: bare RQ enqueues of the same number of jobs with the same JSON serializer and job
ids, and nothing else (no database, no unique check, no retry policy).

    python -m bench.outbox_relay [--events 5000 --batch 500]

Runs on the embedded default (SQLite and an embedded Redis in a temporary folder), or on servers
named with --database-url and --redis-url: given explicitly, never taken from the environment,
because the benchmark writes rows into that database and flushes that Redis database. It never
touches var/.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common

TARGET_EVENTS_PER_S = 1000.0


def wired(folder: Path, database_url: str | None = None, redis_url: str | None = None):
    from service.adapters.migrations import upgrade
    from service.bootstrap import bootstrap
    from service.config import Settings

    database = database_url or f"sqlite:///{folder / 'bench.db'}"
    upgrade(database)
    settings = Settings(
        database_url=database,
        redis_url=redis_url or "embedded",
        secret_key="bench",
        var_dir=folder,
    )
    return bootstrap(settings)


def record_events(kindred, count: int, batch: int) -> list[int]:
    """Events as use cases write them (not published yet: the relay is what is measured)."""
    from service.domain.events import EventKind, subject
    from service.services import outbox

    ids = []
    for start in tqdm(range(0, count, batch), desc="recording", unit="batch"):
        with kindred.uow(publish=False) as uow:
            events = [
                outbox.record(uow, EventKind.PROFILE_UPDATED, subject("member", n))
                for n in range(start, min(count, start + batch))
            ]
            uow.commit()
            ids += [event.id for event in events]
    return ids


def relay(kindred, ids: list[int], batch: int) -> float:
    publisher = kindred.publisher
    started = time.perf_counter()
    with tqdm(total=len(ids), desc="relay", unit="event") as progress:
        for start in range(0, len(ids), batch):
            published = publisher.publish(ids[start : start + batch])
            assert len(published) == len(ids[start : start + batch]), "an event was not published"
            progress.update(len(published))
    return time.perf_counter() - started


def bare_rq(kindred, count: int) -> float:
    from workers.queues import queue

    target = queue("maintenance", kindred.redis)
    started = time.perf_counter()
    for n in tqdm(range(count), desc="bare RQ", unit="job"):
        target.enqueue("workers.jobs.handle_event", n, job_id=f"bare-{n}")
    return time.perf_counter() - started


def main() -> dict:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument("--events", type=int, default=5000)
    parse.add_argument("--batch", type=int, default=500, help="events per relay call")
    parse.add_argument("--database-url", help="a server to use instead of SQLite (it is written)")
    parse.add_argument("--redis-url", help="a Redis database to use instead (it is flushed)")
    parse.add_argument("--json", type=Path)
    args = parse.parse_args()
    with tempfile.TemporaryDirectory(prefix="kindred-bench-") as folder:
        kindred = wired(Path(folder), args.database_url, args.redis_url)
        kindred.redis.flushdb()
        ids = record_events(kindred, args.events, args.batch)
        relay_s = relay(kindred, ids, args.batch)
        kindred.redis.flushdb()
        bare_s = bare_rq(kindred, args.events)
        kindred.redis.flushdb()
        kindred.close()
    relay_rate, bare_rate = args.events / relay_s, args.events / bare_s
    figure = common.measurement(
        "outbox_relay.events_per_s",
        relay_rate,
        "events/s",
        None,
        baseline=bare_rate,
        target_at_least=TARGET_EVENTS_PER_S,
        meets_target_at_least=relay_rate >= TARGET_EVENTS_PER_S,
        relay_seconds=round(relay_s, 2),
        bare_rq_seconds=round(bare_s, 2),
    )
    args.listings = args.members = 0  # report() prints catalogue sizes; none here
    args.seed = None
    return common.report("outbox_relay", args, [figure])


if __name__ == "__main__":
    main()
