"""The keep-in-touch follow-up job at 100,000 members: what it costs to find what is due, and to
send it.

The job runs every ten minutes over every yes of the last 120 days and every recent
introduction, working out each first session from the listing's timetable, so its scan must
stay small beside that interval. The database is the dashboard benchmark's eight weeks of
history (five group suggestions per member, a quarter of them yes; an introduction for every
fifth member), with every listing meeting weekly.

Figures, each with its baseline from the same run:
- the scan (`due_follow_ups`), against the reminder job's scan (`_sessions_starting`), which
  reads the same yeses and timetables: the price of looking back at first sessions;
- sending what is due (`send_follow_ups`: a row and a notification each, one transaction per
  member), per follow-up, against adding one notification with `notify`.

    python -m bench.follow_ups [--members 100000 --listings 10000]
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
from bench.dashboard_overview import fill, wired

# The job runs every 10 minutes: its scan should take a small share of that.
TARGET_SCAN_SECONDS = 30.0
WEEKLY = [{"day": "sat", "start": "10:00", "minutes": 90}]


def meet_weekly(kindred) -> None:
    import sqlalchemy as sa

    from service.adapters.orm import Listing

    with kindred.engine.begin() as connection:
        connection.execute(sa.update(Listing).values(weekly_slots=WEEKLY))


def time_scans(kindred, repeats: int) -> tuple[list[float], list[float], int]:
    from service.adapters.orm import utcnow
    from service.services import follow_ups, rhythm

    now = utcnow()
    scans, baseline, found = [], [], 0
    for _ in tqdm(range(repeats), desc="scans (follow-ups, reminders)", unit="pair"):
        with kindred.uow() as uow:
            started = time.perf_counter()
            found = len(follow_ups.due_follow_ups(uow, now, follow_ups.OWN_MESSAGE_DAYS))
            scans.append(time.perf_counter() - started)
        with kindred.uow() as uow:
            started = time.perf_counter()
            rhythm._sessions_starting(uow, now, now + rhythm.REMINDER_LEAD)
            baseline.append(time.perf_counter() - started)
    return scans, baseline, found


def time_sending(kindred) -> tuple[float, int, float]:
    """Seconds per follow-up sent, how many, and seconds per plain notification."""
    from service.adapters.orm import Member, utcnow
    from service.services import follow_ups, notifications

    with kindred.uow() as uow:  # everyone in daytime with room: the job's full cost
        uow.session.query(Member).update(
            {"timezone": "UTC", "quiet_hours_start": "00:00", "quiet_hours_end": "00:00"}
        )
        uow.commit()
    noon = utcnow().replace(hour=12, minute=0)
    started = time.perf_counter()
    sent = follow_ups.send_follow_ups(kindred, now=noon)
    per_follow_up = (time.perf_counter() - started) / max(sent, 1)
    count = max(1, min(sent, 500))
    started = time.perf_counter()
    for n in tqdm(range(count), desc="baseline notifications", unit="note"):
        with kindred.uow() as uow:
            notifications.notify(uow, 1 + n, "bench", "bench:1", "B", title="t", body="b")
            uow.commit()
    return per_follow_up, sent, (time.perf_counter() - started) / count


def main() -> dict:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument("--members", type=int, default=100_000)
    parse.add_argument("--listings", type=int, default=10_000)
    parse.add_argument("--repeats", type=int, default=5)
    parse.add_argument("--database-url", help="an empty database to fill instead of SQLite")
    parse.add_argument("--json", type=Path)
    args = parse.parse_args()
    with tempfile.TemporaryDirectory(prefix="kindred-follow-ups-") as folder:
        kindred, redis = wired(Path(folder), args.database_url)
        try:
            fill(kindred, args.members, args.listings)
            meet_weekly(kindred)
            scans, baseline, found = time_scans(kindred, args.repeats)
            per_follow_up, sent, per_note = time_sending(kindred)
        finally:
            kindred.close()
            redis.shutdown()
    database = "postgresql" if args.database_url else "sqlite"
    scan = common.measurement(
        "follow_ups.scan_seconds",
        common.median_ms(scans) / 1000,
        "s",
        TARGET_SCAN_SECONDS,
        baseline=common.median_ms(baseline) / 1000,
        baseline_is="the reminder job's scan of the same yeses",
        due=found,
        database=database,
    )
    send = common.measurement(
        "follow_ups.send_ms_each",
        per_follow_up * 1000,
        "ms",
        None,
        baseline=per_note * 1000,
        baseline_is="adding one notification",
        sent=sent,
        database=database,
    )
    args.seed = None
    return common.report("follow_ups", args, [scan, send])


if __name__ == "__main__":
    main()
