"""Load: match requests and listing publications through the whole service at once.

Issue 6 (load): 10,000 match requests and 1,000 listing publications sent over a few minutes by
concurrent HTTP clients on loopback, against kindred as it is deployed: gunicorn with two API
workers (the supervisor's app factory and arguments), two `kindred worker` processes and the
scheduler, on PostgreSQL and Redis. --members members (who consented to matching) each ask
several times; asking while a request still waits returns that request by design, so what is
counted is the distinct request ids accepted. The demo's verified partners publish listings,
which go live at once and fan out to the members they fit.

Reported: throughput (requests accepted per second), HTTP p50/p99 of each kind of request,
end-to-end p50/p99 from acceptance to the result (a match request's `requested_at` to its
suggestions stored, `finished_at`; a listing's `ListingPublished` event recorded to handled, its
fan-out done), non-2xx answers by status, and two counts that must be zero:

- lost: an accepted match request not answered by the deadline, an answer without its "ready"
  note, a listing not fanned out, an outbox event due but unhandled, an email not sent or
  missing from the Maildir, a job that failed for good;
- duplicated: a second request made for a member while one waited, more than one suggestion per
  (member, target, week), more than one notification per (member, kind, subject, week) or
  "ready" note per request, an event recorded twice for one fact, a delivery or an email sent
  twice for one notification.

Baselines from the same run: the same clients (same threads, same concurrency) against
`GET /healthz` on the idle service, for throughput and HTTP latency; and a few match requests
and listings sent one at a time on the idle service, for end-to-end latency: the ratio is what
the load adds.

    python -m bench.load --database-url postgresql://postgres@127.0.0.1/kindred_load
        [--requests 10000 --listings 1000 --members 500 --clients 16]

The database is named explicitly (never read from DATABASE_URL): the schema --schema in it
(kindred_load) is dropped, created and migrated fresh, and the run leaves its rows there to look
at. The Redis database --redis-url (redis://127.0.0.1:6379/14) is flushed at the start; db 15 is
refused (the test suite's). Exits 1 when anything was lost or duplicated.
"""

from __future__ import annotations

import argparse
import email.parser
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from tqdm import tqdm

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common
from bench.match_latency import (
    free_port,
    percentile,
    rematch_now,
    start_service,
    wait_idle,
    wait_ready,
)

DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
TEST_SUITE_REDIS_DB = 15
INITIAL_LISTINGS = 60
UNLOADED_REQUESTS = 10
UNLOADED_LISTINGS = 3
HTTP_TIMEOUT_S = 60
STOP_GRACE_S = 30


@dataclass
class Sent:
    """One HTTP request of the run, as the client saw it."""

    kind: str  # match | listing | healthz
    offset: float  # seconds from the start of its phase to the moment it was sent
    seconds: float  # the round trip
    status: int | str  # the HTTP status, or the client error's name
    ref: int | None = None  # the match request's or the listing's id, when accepted

    @property
    def ok(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300


# ---------------------------------------------------------------- the database and Redis


def schema_url(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def fresh_schema(database_url: str, schema: str) -> str:
    """Drop and create `schema`, migrate it, and return the URL whose search_path is it."""
    import sqlalchemy as sa

    from service.adapters.database import make_engine
    from service.adapters.migrations import upgrade

    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    url = schema_url(database_url, schema)
    upgrade(url)
    return url


def checked_redis_url(url: str) -> str:
    path = urlsplit(url).path.strip("/")
    if path == str(TEST_SUITE_REDIS_DB):
        raise SystemExit(f"load: Redis db {TEST_SUITE_REDIS_DB} is the test suite's; use another")
    return url


# ---------------------------------------------------------------- seeding, through the use cases


@dataclass
class Seeded:
    member_tokens: list[str]
    partner_keys: list[str]  # verified partners: their listings go live at once
    listing_payloads: list[dict]


def seed(kindred, members: int, listings: int, rng: random.Random) -> Seeded:
    """The demo's organizations and first listings, then consenting members (signed up one by
    one, with a progress bar) and the payloads the partners will post during the run."""
    from service.demo.catalogue import ORGANIZATIONS
    from service.demo.seed import _listing_payloads, member_payload, seed_demo
    from service.services import members as member_use_cases

    creds = seed_demo(kindred, member_count=0, listing_count=INITIAL_LISTINGS)
    verified = [o["name"] for o in ORGANIZATIONS if o["verified"]]
    tokens = []
    for number in tqdm(range(members), desc="members", unit="member"):
        payload = member_payload(number, rng)
        payload["consents"] = {**payload["consents"], "matching": True}
        # No quiet hours: every email is due at once, so the run ends with none deferred.
        payload["quiet_hours_start"] = payload["quiet_hours_end"] = "00:00"
        tokens.append(member_use_cases.sign_up(kindred.uow(), payload).token)
    payloads = [payload for _, payload in _listing_payloads(INITIAL_LISTINGS + listings, rng)]
    return Seeded(
        member_tokens=tokens,
        partner_keys=[creds.partner_keys[name] for name in verified],
        listing_payloads=payloads[INITIAL_LISTINGS:],
    )


# ---------------------------------------------------------------- the clients


class Clients:
    """One httpx client per thread of a pool of `size` threads (gunicorn closes connections
    after each answer, so each request opens one, as a browser's would after a pause)."""

    def __init__(self, base: str, size: int):
        self.base, self.size = base, size
        self._local = threading.local()
        self._all: list[httpx.Client] = []
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.base, timeout=HTTP_TIMEOUT_S)
            self._local.client = client
            with self._lock:
                self._all.append(client)
        return client

    def run(self, operations: list, send, desc: str) -> tuple[list[Sent], float]:
        """Send every operation from the pool as fast as answers come back (closed loop: at
        most `size` requests in flight); returns what was sent and the seconds it took."""
        results: list[Sent | None] = [None] * len(operations)
        errors: Counter = Counter()
        started = time.monotonic()
        with (
            ThreadPoolExecutor(max_workers=self.size) as pool,
            tqdm(total=len(operations), desc=desc, unit="req") as progress,
        ):

            def one(index: int) -> None:
                sent = send(self.get(), operations[index], started)
                results[index] = sent
                if not sent.ok:
                    errors[sent.status] += 1
                progress.update(1)
                if errors:
                    progress.set_postfix(non_2xx=sum(errors.values()), refresh=False)

            for future in [pool.submit(one, index) for index in range(len(operations))]:
                future.result()
        return results, time.monotonic() - started

    def close(self) -> None:
        for client in self._all:
            client.close()


def timed_request(client: httpx.Client, kind: str, started: float, method: str, path: str, **kw):
    offset = time.monotonic() - started
    begin = time.perf_counter()
    try:
        response = client.request(method, path, **kw)
    except httpx.HTTPError as error:
        return Sent(kind, offset, time.perf_counter() - begin, type(error).__name__)
    seconds = time.perf_counter() - begin
    ref = None
    if 200 <= response.status_code < 300 and kind != "healthz":
        ref = response.json()["id"]
    return Sent(kind, offset, seconds, response.status_code, ref)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def operations(seeded: Seeded, requests: int, listings: int, rng: random.Random) -> list:
    """Every member asks requests/members times (round robin, then shuffled into one stream
    with the listings), so each asks several times, sometimes while their last one waits."""
    members = len(seeded.member_tokens)
    ops = [("match", n % members) for n in range(requests)]
    ops += [("listing", n) for n in range(listings)]
    rng.shuffle(ops)
    return ops


def make_sender(seeded: Seeded):
    keys = seeded.partner_keys

    def send(client: httpx.Client, operation, started: float) -> Sent:
        kind, n = operation
        if kind == "match":
            return timed_request(
                client,
                kind,
                started,
                "POST",
                "/api/v1/members/me/match-requests",
                headers=bearer(seeded.member_tokens[n]),
            )
        return timed_request(
            client,
            kind,
            started,
            "POST",
            "/api/v1/listings",
            headers=bearer(keys[n % len(keys)]),
            json=seeded.listing_payloads[n],
        )

    return send


def send_healthz(client: httpx.Client, _operation, started: float) -> Sent:
    return timed_request(client, "healthz", started, "GET", "/healthz")


# ---------------------------------------------------------------- end to end, one at a time


def unloaded_end_to_end(kindred, base: str, seeded: Seeded) -> tuple[list[float], list[float]]:
    """A few match requests and listings sent one at a time on the idle service, each followed
    to its result: the end-to-end baseline. Their rows are checked with the rest."""
    matches, listings = [], []
    with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT_S) as client:
        for n in tqdm(range(UNLOADED_REQUESTS), desc="unloaded requests", unit="req"):
            sent = timed_request(
                client,
                "match",
                0,
                "POST",
                "/api/v1/members/me/match-requests",
                headers=bearer(seeded.member_tokens[n % len(seeded.member_tokens)]),
            )
            if not sent.ok:
                raise SystemExit(f"load: an unloaded match request answered {sent.status}")
            matches.append(_wait_for(kindred, _match_result, sent.ref))
        for n in tqdm(range(UNLOADED_LISTINGS), desc="unloaded listings", unit="listing"):
            payload = {**seeded.listing_payloads[n], "title": f"Unloaded listing {n}"}
            sent = timed_request(
                client,
                "listing",
                0,
                "POST",
                "/api/v1/listings",
                headers=bearer(seeded.partner_keys[n % len(seeded.partner_keys)]),
                json=payload,
            )
            if not sent.ok:
                raise SystemExit(f"load: an unloaded listing answered {sent.status}")
            listings.append(_wait_for(kindred, _fanout_result, sent.ref))
    return matches, listings


def _wait_for(kindred, result, ref: int, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with kindred.engine.connect() as connection:
            seconds = result(connection, ref)
        if seconds is not None:
            return seconds
        time.sleep(0.01)
    raise SystemExit(f"load: no result for {ref} within {timeout} s on the idle service")


def _match_result(connection, request_id: int) -> float | None:
    import sqlalchemy as sa

    row = connection.execute(
        sa.text("SELECT requested_at, finished_at FROM match_requests WHERE id = :id"),
        {"id": request_id},
    ).one()
    return None if row.finished_at is None else (row.finished_at - row.requested_at).total_seconds()


def _fanout_result(connection, listing_id: int) -> float | None:
    import sqlalchemy as sa

    row = connection.execute(
        sa.text(
            "SELECT created_at, handled_at FROM outbox_events"
            " WHERE kind = 'ListingPublished' AND subject = :subject"
        ),
        {"subject": f"listing:{listing_id}"},
    ).one_or_none()
    if row is None or row.handled_at is None:
        return None
    return (row.handled_at - row.created_at).total_seconds()


# ---------------------------------------------------------------- waiting for the pipeline


def pipeline_state(kindred, request_ids: list[int], listing_ids: list[int]) -> dict:
    import sqlalchemy as sa

    from workers.queues import ALL_QUEUES, queue

    subjects = [f"listing:{n}" for n in listing_ids]
    with kindred.engine.connect() as connection:
        answered = connection.execute(
            sa.text("SELECT count(*) FROM match_requests WHERE id = ANY(:ids) AND status = 'done'"),
            {"ids": request_ids},
        ).scalar()
        unfinished = connection.execute(
            sa.text("SELECT count(*) FROM match_requests WHERE status IN ('queued', 'running')")
        ).scalar()
        fanned_out = connection.execute(
            sa.text(
                "SELECT count(*) FROM outbox_events WHERE kind = 'ListingPublished'"
                " AND subject = ANY(:subjects) AND handled_at IS NOT NULL"
            ),
            {"subjects": subjects},
        ).scalar()
        unhandled = connection.execute(
            sa.text(
                "SELECT count(*) FROM outbox_events WHERE handled_at IS NULL"
                " AND (available_at IS NULL OR available_at <= now())"
            )
        ).scalar()
    jobs = 0
    for name in ALL_QUEUES:
        q = queue(name, kindred.redis)
        jobs += q.count + q.started_job_registry.count + q.scheduled_job_registry.count
    return {
        "done": answered + fanned_out,
        "unfinished_requests": unfinished,
        "unhandled_events": unhandled,
        "jobs": jobs,
        "idle": answered == len(request_ids)
        and fanned_out == len(listing_ids)
        and unfinished == 0
        and unhandled == 0
        and jobs == 0,
    }


def drain(kindred, request_ids, listing_ids, children, timeout: float) -> tuple[bool, float]:
    """Until every accepted request is answered, every listing fanned out and the outbox and
    queues are empty, or the deadline; returns (drained, seconds waited)."""
    started = time.monotonic()
    total = len(request_ids) + len(listing_ids)
    with tqdm(total=total, desc="pipeline draining", unit="result") as progress:
        while True:
            state = pipeline_state(kindred, request_ids, listing_ids)
            progress.n = state["done"]
            progress.set_postfix(
                jobs=state["jobs"],
                unhandled_events=state["unhandled_events"],
                unfinished=state["unfinished_requests"],
            )
            if state["idle"]:
                return True, time.monotonic() - started
            if time.monotonic() - started > timeout:
                return False, time.monotonic() - started
            dead = [c.args for c in children if c.poll() is not None]
            if dead:
                raise SystemExit(f"load: a process of the service exited: {dead[0]}")
            time.sleep(1)


# ---------------------------------------------------------------- lost and duplicated


LOST_QUERIES = {
    # An accepted request whose answer was never stored (still waiting, running or failed).
    "match_requests_unanswered": (
        "SELECT count(*) FROM match_requests WHERE id = ANY(:requests) AND status <> 'done'"
    ),
    # Answered, but the member was never told (the MatchesReady note).
    "ready_notes_missing": """
        SELECT count(*) FROM match_requests r WHERE r.status = 'done' AND r.reason <> 'weekly'
        AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.kind = 'matches_ready'
                        AND n.subject = 'match_request:' || r.id)""",
    "listings_not_fanned_out": """
        SELECT count(*) FROM unnest(CAST(:listings AS text[])) AS s(subject)
        WHERE NOT EXISTS (SELECT 1 FROM outbox_events e WHERE e.kind = 'ListingPublished'
                          AND e.subject = s.subject AND e.handled_at IS NOT NULL)""",
    "outbox_events_unhandled": """
        SELECT count(*) FROM outbox_events WHERE handled_at IS NULL
        AND (available_at IS NULL OR available_at <= now())""",
    "emails_not_sent": "SELECT count(*) FROM notification_deliveries WHERE status <> 'sent'",
    "jobs_failed_for_good": "SELECT count(*) FROM job_failures",
}

DUPLICATE_QUERIES = {
    # Asking while a request waits returns it: a second one made meanwhile is a duplicate
    # (two answers, two notes for one wait). Weekly rounds make their own request by design.
    "overlapping_match_requests": """
        SELECT count(*) FROM match_requests a JOIN match_requests b
        ON b.member_id = a.member_id AND b.id > a.id
        WHERE a.reason <> 'weekly' AND b.reason <> 'weekly'
        AND b.requested_at < coalesce(a.finished_at, 'infinity')""",
    "suggestions_per_member_target_week": """
        SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM suggestions
        GROUP BY member_id, target, cycle HAVING count(*) > 1) d""",
    "notifications_per_member_kind_subject_week": """
        SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM notifications
        GROUP BY member_id, kind, subject, cycle HAVING count(*) > 1) d""",
    "ready_notes_per_request": """
        SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM notifications
        WHERE kind = 'matches_ready' GROUP BY subject HAVING count(*) > 1) d""",
    "new_listing_notes_per_member_listing": """
        SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM notifications
        WHERE kind = 'new_listing' GROUP BY member_id, subject HAVING count(*) > 1) d""",
    "events_per_fact": """
        SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM outbox_events
        WHERE kind IN ('MatchesRequested', 'MatchesReady', 'ListingPublished',
                       'NotificationCreated')
        GROUP BY kind, subject HAVING count(*) > 1) d""",
    "deliveries_per_notification": """
        SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM notification_deliveries
        GROUP BY notification_id, channel HAVING count(*) > 1) d""",
}


def maildir_message_ids(folder: Path) -> Counter:
    """Message-ID of each email in the Maildir (one per notification: a resend shows twice)."""
    parser = email.parser.BytesHeaderParser()
    found: Counter = Counter()
    for sub in ("new", "cur"):
        for path in (folder / "mail" / sub).glob("*") if (folder / "mail").is_dir() else ():
            with path.open("rb") as handle:
                found[parser.parse(handle)["Message-ID"]] += 1
    return found


def audit(kindred, request_ids: list[int], listing_ids: list[int], var_dir: Path):
    """(lost, duplicated, facts): every count read from the database and the Maildir."""
    import sqlalchemy as sa

    params = {"requests": request_ids, "listings": [f"listing:{n}" for n in listing_ids]}
    with kindred.engine.connect() as connection:

        def count(sql: str) -> int:
            wanted = {k: v for k, v in params.items() if f":{k}" in sql}
            return int(connection.execute(sa.text(sql), wanted).scalar())

        lost = {name: count(sql) for name, sql in LOST_QUERIES.items()}
        duplicated = {name: count(sql) for name, sql in DUPLICATE_QUERIES.items()}
        sent_ids = connection.execute(
            sa.text("SELECT notification_id FROM notification_deliveries WHERE status = 'sent'")
        ).scalars()
        expected = {f"<notification-{n}@kindred>" for n in sent_ids}
        facts = dict(
            connection.execute(
                sa.text(
                    "SELECT 'match_requests', count(*) FROM match_requests UNION ALL"
                    " SELECT 'suggestions', count(*) FROM suggestions UNION ALL"
                    " SELECT 'notifications', count(*) FROM notifications UNION ALL"
                    " SELECT 'emails_sent', count(*) FROM notification_deliveries"
                    " WHERE status = 'sent' UNION ALL"
                    " SELECT 'outbox_events', count(*) FROM outbox_events UNION ALL"
                    " SELECT 'active_listings', count(*) FROM listings WHERE status = 'active'"
                    " UNION ALL SELECT 'new_listing_notes', count(*) FROM notifications"
                    " WHERE kind = 'new_listing'"
                )
            ).all()
        )
        deferred = connection.execute(
            sa.text(
                "SELECT count(*) FROM outbox_events WHERE handled_at IS NULL"
                " AND available_at > now()"
            )
        ).scalar()
    emails = maildir_message_ids(var_dir)
    lost["emails_missing_from_maildir"] = len(expected - set(emails))
    duplicated["emails_per_message_id"] = sum(n - 1 for n in emails.values() if n > 1)
    facts["emails_in_maildir"] = sum(emails.values())
    facts["events_deferred_not_due"] = deferred  # quiet hours: not lost, not yet due
    return lost, duplicated, facts


MATCHING_KINDS = ("MatchesRequested", "ListingPublished")


def job_stats(kindred, since: datetime, sending_ended: datetime) -> tuple[dict, dict]:
    """Per kind of job enqueued since `since` (from RQ's finished jobs): how many, how many ran
    more than once (a retry after an error, a job handed back: harmless when the handlers are
    idempotent, which the duplicate counts check), seconds of work, run time and queue wait.
    And the matching jobs' run time while the clients were sending (listings going live, each
    one making every worker refit its matchers) and after."""
    from rq.job import Job

    from workers.queues import ALL_QUEUES, SERIALIZER, queue

    runs, waits, retried = defaultdict(list), defaultdict(list), Counter()
    phases = defaultdict(list)
    ids = [
        job_id
        for name in ALL_QUEUES
        for job_id in queue(name, kindred.redis).finished_job_registry.get_job_ids()
    ]
    for start in tqdm(range(0, len(ids), 500), desc="reading jobs", unit="batch"):
        for job in Job.fetch_many(ids[start : start + 500], kindred.redis, serializer=SERIALIZER):
            if job is None or None in (job.enqueued_at, job.started_at, job.ended_at):
                continue
            if _aware(job.enqueued_at) < since:
                continue
            description = job.description or ""
            kind = (
                description.split(" event ")[0]
                if " event " in description
                else (job.func_name or "?").rsplit(".", 1)[-1]
            )
            enqueued, started, ended = map(_aware, (job.enqueued_at, job.started_at, job.ended_at))
            runs[kind].append((ended - started).total_seconds())
            waits[kind].append(max(0.0, (started - enqueued).total_seconds()))
            if kind in MATCHING_KINDS:
                phase = "while sending" if started <= sending_ended else "while draining"
                phases[phase].append(runs[kind][-1])
            if len(job.results()) > 1:
                retried[kind] += 1
    kinds = {
        kind: {
            "jobs": len(runs[kind]),
            "ran_more_than_once": retried[kind],
            "busy_s": round(sum(runs[kind]), 1),
            "run_p50_ms": round(1000 * percentile(runs[kind], 0.5), 1),
            "run_p99_ms": round(1000 * percentile(runs[kind], 0.99), 1),
            "wait_p50_s": round(percentile(waits[kind], 0.5), 2),
            "wait_p99_s": round(percentile(waits[kind], 0.99), 2),
        }
        for kind in sorted(runs, key=lambda k: -sum(runs[k]))
    }
    matching = {
        phase: {
            "jobs": len(seconds),
            "run_mean_ms": round(1000 * sum(seconds) / len(seconds), 1),
            "run_p50_ms": round(1000 * percentile(seconds, 0.5), 1),
        }
        for phase, seconds in phases.items()
    }
    return kinds, matching


def _aware(moment: datetime) -> datetime:
    """RQ's timestamps are UTC, with or without the zone depending on the version."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CpuMeter:
    """CPU seconds used by each part between two readings: the API (gunicorn and its workers),
    each kindred worker, the scheduler, this process (the clients), and the machine's
    PostgreSQL and Redis servers (which may serve others too). What saturates shows here."""

    def __init__(self, children: list[subprocess.Popen], names: list[str]):
        import psutil

        self._psutil = psutil
        self._parts = dict(zip(names, children, strict=True))
        self._start = self._read()
        self._started = time.monotonic()

    def _processes(self) -> dict[str, list]:
        psutil = self._psutil
        parts: dict[str, list] = defaultdict(list)
        for name, child in self._parts.items():
            try:
                root = psutil.Process(child.pid)
                parts[name] += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        parts["clients (this process)"].append(psutil.Process())
        for process in psutil.process_iter(["name"]):
            if process.info["name"] in ("postgres", "redis-server"):
                parts[process.info["name"]].append(process)
        return parts

    def _read(self) -> dict[tuple[str, int], float]:
        seconds = {}
        for name, processes in self._processes().items():
            for process in processes:
                try:
                    times = process.cpu_times()
                    seconds[(name, process.pid)] = times.user + times.system
                except self._psutil.Error:
                    pass
        return seconds

    def read(self) -> dict:
        """{part: share of one core} since the meter started, plus the wall seconds."""
        end, wall = self._read(), time.monotonic() - self._started
        used: Counter = Counter()
        for key, seconds in end.items():
            used[key[0]] += seconds - self._start.get(key, 0.0)
        shares = {name: round(seconds / wall, 2) for name, seconds in used.most_common()}
        return {"wall_s": round(wall, 1), "cores_used": shares}


# ---------------------------------------------------------------- report


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def chart(load: list[Sent], healthz_p50: float, e2e: list[tuple], path: Path) -> None:
    """HTTP latency of every request, and end-to-end latency of every result, over the run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for kind, colour in (("match", "tab:blue"), ("listing", "tab:orange")):
        points = [(s.offset, s.seconds * 1000) for s in load if s.kind == kind and s.ok]
        if points:
            top.scatter(*zip(*points, strict=True), s=2, alpha=0.35, color=colour, label=kind)
    top.axhline(healthz_p50 * 1000, color="grey", linestyle="--", label="GET /healthz p50 (idle)")
    top.set_yscale("log")
    top.set_ylabel("HTTP latency (ms, log)")
    top.set_title("Load: match requests and listing publications (gunicorn -w 2, 2 workers)")
    top.legend(loc="lower right", markerscale=4)
    for kind, colour in (
        ("match request → suggestions", "tab:blue"),
        ("listing → fan-out", "tab:orange"),
    ):
        points = [(offset, seconds) for k, offset, seconds in e2e if k == kind]
        if points:
            bottom.scatter(*zip(*points, strict=True), s=2, alpha=0.35, color=colour, label=kind)
    bottom.set_yscale("log")
    bottom.set_ylabel("end to end (s, log)")
    bottom.set_xlabel("seconds since the load started (accepted at)")
    bottom.legend(loc="upper left", markerscale=4)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def end_to_end(kindred, request_ids, listing_ids, load_started: datetime) -> list[tuple]:
    """(kind, seconds after the load started when accepted, seconds to the result)."""
    import sqlalchemy as sa

    with kindred.engine.connect() as connection:
        matches = connection.execute(
            sa.text(
                "SELECT requested_at, finished_at FROM match_requests"
                " WHERE id = ANY(:ids) AND finished_at IS NOT NULL AND status = 'done'"
            ),
            {"ids": request_ids},
        ).all()
        listings = connection.execute(
            sa.text(
                "SELECT created_at, handled_at FROM outbox_events WHERE kind = 'ListingPublished'"
                " AND subject = ANY(:subjects) AND handled_at IS NOT NULL"
            ),
            {"subjects": [f"listing:{n}" for n in listing_ids]},
        ).all()
    rows = [("match request → suggestions", a, b) for a, b in matches]
    rows += [("listing → fan-out", a, b) for a, b in listings]
    return [
        (kind, (accepted - load_started).total_seconds(), (done - accepted).total_seconds())
        for kind, accepted, done in rows
    ]


def figures(args, load, load_seconds, healthz, healthz_seconds, unloaded, e2e, lost, duplicated):
    ms = [s.seconds for s in healthz if s.ok]
    h50, h99 = percentile(ms, 0.5), percentile(ms, 0.99)
    accepted = [s for s in load if s.ok]
    measured = [
        common.measurement(
            "load.accepted_per_s",
            len(accepted) / load_seconds,
            "requests/s",
            None,
            baseline=len(ms) / healthz_seconds,
            distinct_match_requests_per_s=round(
                len({s.ref for s in accepted if s.kind == "match"}) / load_seconds, 2
            ),
            clients=args.clients,
        )
    ]
    for kind in ("match", "listing"):
        seconds = [s.seconds for s in accepted if s.kind == kind]
        if not seconds:
            continue
        for q, base in ((0.5, h50), (0.99, h99)):
            measured.append(
                common.measurement(
                    f"load.http_{kind}_p{round(q * 100)}_ms",
                    1000 * percentile(seconds, q),
                    "ms",
                    None,
                    baseline=1000 * base,
                )
            )
    unloaded_match, unloaded_listing = unloaded
    for kind, name, base in (
        ("match request → suggestions", "match", unloaded_match),
        ("listing → fan-out", "listing", unloaded_listing),
    ):
        seconds = [s for k, _, s in e2e if k == kind]
        if not seconds:
            continue
        for q in (0.5, 0.99):
            measured.append(
                common.measurement(
                    f"load.e2e_{name}_p{round(q * 100)}_s",
                    percentile(seconds, q),
                    "s",
                    None,
                    baseline=percentile(base, q),
                    results=len(seconds),
                )
            )
    measured.append(common.measurement("load.lost", sum(lost.values()), "results", 0, **lost))
    measured.append(
        common.measurement("load.duplicated", sum(duplicated.values()), "results", 0, **duplicated)
    )
    return measured


# ---------------------------------------------------------------- main


def main() -> dict:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument(
        "--database-url", required=True, help="a PostgreSQL database (its --schema is replaced)"
    )
    parse.add_argument("--schema", default="kindred_load", help="dropped and migrated fresh")
    parse.add_argument("--redis-url", default=DEFAULT_REDIS, help="flushed at the start")
    parse.add_argument("--requests", type=int, default=10_000, help="match requests to send")
    parse.add_argument("--listings", type=int, default=1_000, help="listings to publish")
    parse.add_argument("--members", type=int, default=500, help="members who ask")
    parse.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parse.add_argument("--workers", type=int, default=2, help="`kindred worker` processes")
    parse.add_argument("--baseline-requests", type=int, default=2_000, help="GET /healthz")
    parse.add_argument(
        "--deadline", type=float, default=600, help="seconds the pipeline gets to drain"
    )
    parse.add_argument("--seed", type=int, default=7)
    parse.add_argument("--json", type=Path, default=common.RESULTS_DIR / "load.json")
    parse.add_argument("--chart", type=Path, default=common.REPO_ROOT / "docs/benchmarks/load.png")
    parse.add_argument("--logs", type=Path, help="keep the processes' logs here")
    args = parse.parse_args()
    if not args.database_url.startswith(("postgresql", "postgres://")):
        raise SystemExit("load: --database-url must name a PostgreSQL database")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.schema):
        raise SystemExit("load: --schema must be a plain lower-case name")
    redis_url = checked_redis_url(args.redis_url)
    started_wall = time.monotonic()
    load_before = load_average()
    print(f"load average before: {load_before} ({os.cpu_count()} cores)")

    from service.bootstrap import bootstrap
    from service.config import Settings

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="kindred-load-") as folder:
        var_dir = Path(folder)
        database_url = fresh_schema(args.database_url, args.schema)
        settings = Settings(
            database_url=database_url, redis_url=redis_url, secret_key="load", var_dir=var_dir
        )
        kindred = bootstrap(settings)
        kindred.redis.flushdb()
        seeded = seed(kindred, args.members, args.listings, rng)
        rematch_now(kindred)  # the sign-ups' first re-match runs while settling, not in the load
        env = dict(
            os.environ,
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            KINDRED_VAR_DIR=str(var_dir),
            SECRET_KEY="load",
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        logs_dir = args.logs or var_dir / "logs"
        children = start_service(env, port, args.workers, logs=logs_dir)
        names = ["api (gunicorn)", *(f"worker-{n + 1}" for n in range(args.workers)), "scheduler"]
        clients = Clients(base, args.clients)
        try:
            wait_ready(base, children)
            wait_idle(kindred, "settling")
            healthz, healthz_seconds = clients.run(
                [None] * args.baseline_requests, send_healthz, "baseline GET /healthz"
            )
            unloaded = unloaded_end_to_end(kindred, base, seeded)
            wait_idle(kindred, "settling")
            ops = operations(seeded, args.requests, args.listings, rng)
            load_started = datetime.now(UTC)
            meter = CpuMeter(children, names)
            load, load_seconds = clients.run(ops, make_sender(seeded), "sending")
            cpu = {"sending": meter.read()}
            load_during = load_average()
            meter = CpuMeter(children, names)
            request_ids = sorted({s.ref for s in load if s.ok and s.kind == "match"})
            listing_ids = sorted({s.ref for s in load if s.ok and s.kind == "listing"})
            drained, drain_seconds = drain(
                kindred, request_ids, listing_ids, children, args.deadline
            )
            cpu["draining"] = meter.read()
        finally:
            clients.close()
            _stop(children)
        lost, duplicated, facts = audit(kindred, request_ids, listing_ids, var_dir)
        jobs, matching_jobs = job_stats(
            kindred, load_started, load_started + timedelta(seconds=load_seconds)
        )
        e2e = end_to_end(kindred, request_ids, listing_ids, load_started)
        kindred.close()
        logs = {p.name: p.stat().st_size for p in logs_dir.glob("*.log")}
    healthz_p50 = percentile([s.seconds for s in healthz if s.ok], 0.5)
    chart(load, healthz_p50, e2e, args.chart)
    non_2xx = Counter(str(s.status) for s in load + healthz if not s.ok)
    measured = figures(
        args, load, load_seconds, healthz, healthz_seconds, unloaded, e2e, lost, duplicated
    )
    context = {
        "database": "postgresql",
        "schema": args.schema,
        "requests_sent": args.requests,
        "listings_sent": args.listings,
        "match_requests_accepted": sum(1 for s in load if s.ok and s.kind == "match"),
        "distinct_match_requests": len(request_ids),
        "listings_accepted": len(listing_ids),
        "non_2xx": dict(non_2xx),
        "sending_seconds": round(load_seconds, 1),
        "drained": drained,
        "drain_seconds": round(drain_seconds, 1),
        "wall_seconds": round(time.monotonic() - started_wall, 1),
        "load_average": {"before": load_before, "after_sending": load_during},
        "gunicorn_workers": 2,
        "kindred_workers": args.workers,
        "clients": args.clients,
        "facts": facts,
        "cpu": cpu,
        "jobs": jobs,
        "matching_jobs": matching_jobs,
        "worker_busy_share": round(
            sum(j["busy_s"] for j in jobs.values())
            / ((load_seconds + drain_seconds) * args.workers),
            2,
        ),
        "log_bytes": logs,
        "chart": str(args.chart),
    }
    result = common.report("load", args, measured, **context)
    print("\njobs since the load started (kind: count, seconds of work, run p50/p99, wait p50/p99)")
    for kind, j in jobs.items():
        print(
            f"  {kind}: {j['jobs']:,} jobs, {j['busy_s']:,.0f} s, run {j['run_p50_ms']:,.0f}/"
            f"{j['run_p99_ms']:,.0f} ms, wait {j['wait_p50_s']:,.1f}/{j['wait_p99_s']:,.1f} s"
            + (f", {j['ran_more_than_once']} ran more than once" if j["ran_more_than_once"] else "")
        )
    print(f"workers busy {context['worker_busy_share']:.0%} of the time (sending and draining)")
    for phase, j in matching_jobs.items():
        print(
            f"matching jobs {phase}: {j['jobs']:,}, run mean {j['run_mean_ms']:,.0f} ms, "
            f"p50 {j['run_p50_ms']:,.0f} ms"
        )
    for phase, reading in cpu.items():
        shares = ", ".join(f"{k} {v:.2f}" for k, v in reading["cores_used"].items())
        print(f"cores used while {phase} ({reading['wall_s']:.0f} s): {shares}")
    print(json.dumps({k: context[k] for k in ("non_2xx", "drained", "wall_seconds")}))
    print(
        f"sent {args.requests:,} match requests and {args.listings:,} listings in "
        f"{load_seconds:.0f} s; {len(request_ids):,} distinct requests; drained in "
        f"{drain_seconds:.0f} s; load average {load_before} before, {load_during} after sending"
    )
    if sum(lost.values()) or sum(duplicated.values()):
        print(f"LOST {lost}\nDUPLICATED {duplicated}")
        sys.exit(1)
    return result


def _stop(children) -> None:
    """SIGTERM (gunicorn's and RQ's warm shutdown), then SIGKILL after the grace period."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":
    main()
