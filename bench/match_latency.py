"""Request-to-suggestions latency at a steady rate on the embedded default.

Target (issue 4): p99 <= 1 s at 20 match requests per second. The service runs as `make run`
runs it (SQLite, the embedded Redis, gunicorn with 2 API workers, one `kindred worker`, the
scheduler) on the demo catalogue in a temporary folder, with --members extra members who
consented to matching. Requests are sent at a fixed rate, each from a different member in turn,
for --seconds; a request's latency is from the moment it was sent to the moment its suggestions
were committed (`match_requests.finished_at`).

Baseline, in the same run against the same Redis and database, at the same rate: bare RQ jobs
in one plain RQ `SimpleWorker` (in-process, like kindred's worker; matchers fitted once before
it starts) that run the same two matchers for the same members and write nothing, measured
from enqueue to the end of the job. The ratio is what the API, the outbox, the database writes
and the "ready" notification add.

    python -m bench.match_latency [--rate 20 --seconds 60 --members 600]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
from tqdm import tqdm

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common

TARGET_P99_S = 1.0
BARE_QUEUE = "bench-bare"
BARE_JOB = "bench.match_latency.bare_match"  # by name: run as a script, this module is __main__
SETTLE_TIMEOUT_S = 120


# ---------------------------------------------------------------- the baseline's job and worker


def bare_match(member_id: int) -> int:
    """The matching work of one request and nothing else: no status, no suggestions, no event."""
    from service.adapters.matcher_source import profile_record
    from workers import context

    kindred = context.kindred()
    with kindred.uow() as uow:
        profile = profile_record(uow.members.get(member_id))
        matchers = kindred.matchers.get(uow.session)
        groups = matchers.group.recommend(profile, k=5)
        peers = matchers.peer.recommend(profile, k=3)
    return len(groups) + len(peers)


def run_bare_worker() -> None:
    """A plain RQ worker on the baseline queue, matchers fitted first."""
    from rq import SimpleWorker

    from workers import context
    from workers.queues import SERIALIZER, queue

    kindred = context.kindred()
    with kindred.uow() as uow:
        kindred.matchers.get(uow.session)
    bare = queue(BARE_QUEUE, kindred.redis)
    SimpleWorker([bare], connection=kindred.redis, serializer=SERIALIZER).work(with_scheduler=False)


# ---------------------------------------------------------------- the service under test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(folder: Path, extra_members: int):
    """Migrations, demo data and extra consenting members; returns (kindred, env, tokens)."""
    from service.adapters.migrations import upgrade
    from service.adapters.redis_connection import socket_url, start_embedded
    from service.bootstrap import bootstrap
    from service.config import Settings
    from service.demo.seed import member_payload, seed_demo
    from service.services import members

    embedded = start_embedded(folder)
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{folder / 'kindred.db'}",
        REDIS_URL=socket_url(embedded),
        KINDRED_VAR_DIR=str(folder),
        SECRET_KEY="bench",
    )
    upgrade(env["DATABASE_URL"])
    settings = Settings(
        database_url=env["DATABASE_URL"],
        redis_url=env["REDIS_URL"],
        secret_key="bench",
        var_dir=folder,
    )
    kindred = bootstrap(settings)
    seed_demo(kindred)
    rng = random.Random(11)
    tokens = {}
    for number in tqdm(range(extra_members), desc="members", unit="member"):
        payload = member_payload(100_000 + number, rng)
        payload["consents"] = {"matching": True, "peer_introductions": True}
        signed_up = members.sign_up(kindred.uow(), payload)
        tokens[signed_up.member.id] = signed_up.token
    rematch_now(kindred)
    return embedded, kindred, env, tokens


def rematch_now(kindred) -> None:
    """As if everyone had signed up a minute ago: their first re-match is due at once, so the
    settling phase runs it instead of waiting for it."""
    import sqlalchemy as sa

    from service.adapters.orm import Member, utcnow

    with kindred.uow() as uow:
        uow.session.execute(
            sa.update(Member)
            .where(Member.rematch_due_at.is_not(None))
            .values(rematch_due_at=utcnow())
        )
        uow.commit()


def start_service(
    env: dict, port: int, workers: int, logs: Path | None = None
) -> list[subprocess.Popen]:
    """gunicorn (2 API workers, the supervisor's app factory), `workers` kindred workers and
    the scheduler; their output goes to `logs/<name>.log` when a folder is given."""
    from service.cli import gunicorn_args

    python = sys.executable
    commands = {
        "api": [python, "-m", "gunicorn", *gunicorn_args("127.0.0.1", port, 2)],
        **{f"worker-{n + 1}": [python, "-m", "service.cli", "worker"] for n in range(workers)},
        "scheduler": [python, "-m", "service.cli", "scheduler"],
    }
    children = []
    for name, command in commands.items():
        if logs is None:
            out = subprocess.DEVNULL
        else:
            logs.mkdir(parents=True, exist_ok=True)
            out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it open)
        children.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT))
        if logs is not None:
            out.close()  # the child has its own copy
    return children


def wait_ready(base: str, children=()) -> None:
    """Until /readyz answers 200; a child process of the service exiting meanwhile ends it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise SystemExit("a process of the service exited while starting")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the service did not become ready within 60 s")


def wait_idle(kindred, label: str) -> None:
    """Until no match request is unfinished, no job waits and no re-match is due: sign-ups
    with consent re-match a minute later, and must not land in the measured window."""
    import sqlalchemy as sa

    from service.adapters.orm import MatchRequest, Member
    from workers.queues import ALL_QUEUES, queue

    deadline = time.monotonic() + SETTLE_TIMEOUT_S * 5
    with tqdm(desc=label, unit="request") as progress:
        while time.monotonic() < deadline:
            with kindred.uow() as uow:
                unfinished = uow.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(MatchRequest)
                    .where(MatchRequest.status.in_(("queued", "running")))
                )
                due = uow.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(Member)
                    .where(Member.rematch_due_at.is_not(None))
                )
            waiting = sum(queue(name, kindred.redis).count for name in ALL_QUEUES)
            progress.set_postfix(unfinished=unfinished, jobs=waiting, rematches_due=due)
            if unfinished == 0 and waiting == 0 and due == 0:
                return
            time.sleep(1)
    raise SystemExit(f"{label}: still busy after {SETTLE_TIMEOUT_S * 5} s")


# ---------------------------------------------------------------- steady load


def steady(rate: float, seconds: float, send) -> list:
    """Call `send(n)` at a fixed rate from a pool, so a slow answer never delays the next."""
    count = int(rate * seconds)
    results = [None] * count
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool, tqdm(total=count, unit="req") as progress:
        futures = []
        for n in range(count):
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            future = pool.submit(send, n)
            future.add_done_callback(lambda _f: progress.update(1))
            futures.append((n, future))
        for n, future in futures:
            results[n] = future.result()
    return results


def kindred_latencies(kindred, base: str, tokens: dict, rate: float, seconds: float):
    import sqlalchemy as sa

    from service.adapters.orm import MatchRequest

    tokens_in_turn = list(tokens.values())
    local = threading.local()

    def send(n: int):
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, timeout=30)
        token = tokens_in_turn[n % len(tokens_in_turn)]
        sent = datetime.now(UTC)
        response = local.client.post(
            "/api/v1/members/me/match-requests", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 202, response.text
        return sent, response.json()["id"]

    sent = steady(rate, seconds, send)
    wait_idle(kindred, "answering")
    with kindred.uow() as uow:
        finished = dict(
            uow.session.execute(
                sa.select(MatchRequest.id, MatchRequest.finished_at).where(
                    MatchRequest.id.in_([request_id for _, request_id in sent])
                )
            ).all()
        )
    return [(finished[request_id] - at).total_seconds() for at, request_id in sent]


def bare_latencies(kindred, env: dict, member_ids: list[int], rate: float, seconds: float):
    from workers.queues import queue

    worker = subprocess.Popen(
        [sys.executable, "-c", "from bench.match_latency import run_bare_worker as r; r()"],
        env=dict(env, PYTHONPATH=str(common.REPO_ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        bare = queue(BARE_QUEUE, kindred.redis)
        warm = bare.enqueue(BARE_JOB, member_ids[0])  # wait for the parent's fit
        _wait_finished([warm])

        def send(n: int):
            return bare.enqueue(BARE_JOB, member_ids[n % len(member_ids)], result_ttl=3600)

        jobs = steady(rate, seconds, send)
        _wait_finished(jobs)
        return [(job.ended_at - job.enqueued_at).total_seconds() for job in jobs]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def _wait_finished(jobs) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    for job in jobs:
        while job.get_status(refresh=True) != "finished":
            if job.get_status() == "failed" or time.monotonic() > deadline:
                raise SystemExit(f"baseline job {job.id} did not finish: {job.get_status()}")
            time.sleep(0.05)
        job.refresh()


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q * 100))


def chart(ours: list[float], bare: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for label, values in (("kindred: API to suggestions", ours), ("bare RQ job", bare)):
        ordered = sorted(values)
        ax.plot(
            [v * 1000 for v in ordered],
            [i / len(ordered) for i in range(len(ordered))],
            label=label,
        )
    ax.axvline(TARGET_P99_S * 1000, color="grey", linestyle="--", label="p99 target (1 s)")
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("share of requests")
    ax.set_title("Match request latency at a steady rate (embedded default)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> dict:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parse.add_argument("--seconds", type=float, default=60.0)
    parse.add_argument("--members", type=int, default=600, help="extra consenting members")
    parse.add_argument("--workers", type=int, default=1, help="`kindred worker` processes")
    parse.add_argument("--json", type=Path)
    parse.add_argument(
        "--chart", type=Path, default=common.REPO_ROOT / "docs/benchmarks/latency.png"
    )
    args = parse.parse_args()
    with tempfile.TemporaryDirectory(prefix="kindred-latency-") as folder:
        embedded, kindred, env, tokens = prepare(Path(folder), args.members)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        children = start_service(env, port, args.workers)
        try:
            wait_ready(base)
            wait_idle(kindred, "settling")  # sign-ups with consent re-match once, first
            ours = kindred_latencies(kindred, base, tokens, args.rate, args.seconds)
        finally:
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                child.wait(timeout=60)
        bare = bare_latencies(kindred, env, list(tokens), args.rate, args.seconds)
        kindred.close()
        embedded.shutdown()
    args.chart.parent.mkdir(parents=True, exist_ok=True)
    chart(ours, bare, args.chart)
    p50, p99 = percentile(ours, 0.5), percentile(ours, 0.99)
    bare_p50, bare_p99 = percentile(bare, 0.5), percentile(bare, 0.99)
    figures = [
        common.measurement("match_latency.p50_s", p50, "s", None, baseline=bare_p50),
        common.measurement(
            "match_latency.p99_s",
            p99,
            "s",
            TARGET_P99_S,
            baseline=bare_p99,
            requests=len(ours),
            workers=args.workers,
            rate_per_s=args.rate,
            max_s=round(max(ours), 3),
        ),
    ]
    print(json.dumps({"chart": str(args.chart)}))
    args.listings, args.seed = 0, None
    return common.report("match_latency", args, figures)


if __name__ == "__main__":
    main()
