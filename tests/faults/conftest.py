"""The fault suite's machinery: private servers, real kindred processes, and the one check.

Every fault test runs the real thing: `kindred worker` and `kindred scheduler` as child
processes, a redis-server and a PostgreSQL 15 cluster of the suite's own (free ports, temporary
directories), so that killing or restarting them disturbs no other test run on the machine
(PostgreSQL: the newest of /usr/lib/postgresql/*/bin, 15 on the CI machine).
The API runs in the test process (the Flask app with TESTING off, so an error is answered as a
client would see it), against the same servers.

Without the binaries (redis-server; initdb and pg_ctl of PostgreSQL) the suite is skipped,
unless KINDRED_REQUIRE_POSTGRES=1 (CI) turns the skip into a failure.

After each fault, `check_exactly_once` asserts that every accepted request reached its result
exactly once, and each test records its figures; they are printed at the end of the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email
import email.policy
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa
from redis import Redis

from service.adapters.migrations import upgrade
from service.adapters.orm import (
    JobFailure,
    MatchRequest,
    Member,
    Notification,
    NotificationDelivery,
    OutboxEvent,
    Suggestion,
    WebhookDelivery,
)
from service.adapters.publisher import job_id
from service.app import create_app
from service.bootstrap import Kindred, bootstrap
from service.config import Settings
from service.services.coordinators import create_coordinator
from tests.conftest import truncate_all
from tests.integration.api.conftest import (
    Caller,
    listing_body,
    make_partner,
    run_worker,
    sign_up,
)
from tests.support import free_port
from workers import context
from workers.queues import ALL_QUEUES, queue

DEADLINE_SECONDS = 120
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
CONSENTING = {"consents": {"matching": True, "peer_introductions": False}}
# No quiet hours (equal start and end): emails are due at once, whatever the hour of the run.
WANTS_EMAIL = {
    **CONSENTING,
    "notify_channels": ["in_app", "email"],
    "quiet_hours_start": "00:00",
    "quiet_hours_end": "00:00",
}


# ---------------------------------------------------------------- private servers


def missing(reason: str):
    """Skip (a laptop without the binaries), or fail where PostgreSQL is required (CI)."""
    if os.environ.get("KINDRED_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"KINDRED_REQUIRE_POSTGRES=1 but the fault suite cannot run: {reason}")
    pytest.skip(reason)


def wait_for(condition, what: str, timeout: float = DEADLINE_SECONDS, every: float = 0.2) -> float:
    """Poll `condition` until it holds; the seconds it took, or an AssertionError at the
    deadline."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(every)


def postgres_bin() -> Path | None:
    for directory in sorted(glob.glob(POSTGRES_BIN_GLOB), reverse=True):
        if Path(directory, "initdb").exists() and Path(directory, "pg_ctl").exists():
            return Path(directory)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


class PrivateRedis:
    """A redis-server of the suite's own: killed and started again on the same port.

    Configured like docker-compose.yml's (an append-only file, fsynced every second, no
    eviction): a crash loses at most the last second of writes, as in production."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.log = directory / "redis.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    *("--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--dir", str(self.directory), "--save", ""),
                    *("--appendonly", "yes", "--appendfsync", "everysec"),
                    *("--maxmemory-policy", "noeviction"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = Redis.from_url(self.url, socket_connect_timeout=1, retry=None)
        try:
            wait_for(lambda: _answers(client), "the private redis-server answers", 20, 0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """kill -9, as a crash or an OOM kill would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _answers(client: Redis) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


class PrivatePostgres:
    """A PostgreSQL cluster of the suite's own, in a temporary directory owned by `postgres`
    when the suite runs as root (initdb refuses root), with fsync off: it is thrown away."""

    def __init__(self, bin_dir: Path, directory: Path):
        self.bin_dir, self.directory, self.port = bin_dir, directory, free_port()
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self._as, *command],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def init(self) -> None:
        if self._as:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(
            str(self.bin_dir / "initdb"),
            *("-D", str(self.data), "-U", "postgres", "--auth=trust"),
            *("-E", "UTF8", "--no-sync", "--no-instructions"),
        )

    def start(self) -> None:
        options = " ".join(
            (
                f"-p {self.port} -c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.directory}",
                # No fsync: the cluster is thrown away, and a crash of PostgreSQL (not of the
                # machine) keeps every commit. synchronous_commit stays on: off, a crash would
                # lose the last commits, which no client was told could be lost.
                "-c fsync=off -c full_page_writes=off",
                "-c max_connections=100",
            )
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            *("-D", str(self.data), "-l", str(self.log), "-w", "-t", "60"),
            *("-o", options, "start"),
        )

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash (every backend killed, recovery at the next start)."""
        if (self.data / "postmaster.pid").exists():
            self._run(
                str(self.bin_dir / "pg_ctl"),
                *("-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"),
            )


@dataclass
class Servers:
    postgres: PrivatePostgres
    redis: PrivateRedis

    @property
    def database_url(self) -> str:
        return self.postgres.url


@pytest.fixture(scope="session")
def servers():
    """The suite's private PostgreSQL and Redis, migrated, for the whole session; stopped and
    removed afterwards whatever happened."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        missing("PostgreSQL's initdb and pg_ctl are not installed (/usr/lib/postgresql/*/bin)")
    if shutil.which("redis-server") is None:
        missing("redis-server is not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing("running as root, and runuser is missing to run PostgreSQL as `postgres`")
    # Not under pytest's tmp_path: its parents are private to root, and `postgres` must enter.
    directory = Path(tempfile.mkdtemp(prefix="kindred-faults-"))
    directory.chmod(0o755)
    postgres = PrivatePostgres(bin_dir, directory / "pg")
    postgres.directory.mkdir()
    redis_dir = directory / "redis"
    redis_dir.mkdir()
    redis = PrivateRedis(redis_dir)
    try:
        postgres.init()
        postgres.start()
        redis.start()
        upgrade(postgres.url)
        yield Servers(postgres, redis)
    finally:
        with contextlib.suppress(Exception):
            postgres.stop("immediate")
        redis.kill()
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- kindred processes


class Processes:
    """`kindred worker` and `kindred scheduler` as child processes, with their logs."""

    def __init__(self, directory: Path, env: dict):
        self.directory, self.env = directory, env
        self.started: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, command: str, **extra_env: str) -> subprocess.Popen:
        log = self.directory / f"{command}-{len(self.started)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "service.cli", command],
                env={**self.env, **extra_env},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.started.append((command, process, log))
        return process

    def worker(self, **extra_env: str) -> subprocess.Popen:
        return self.start("worker", **extra_env)

    def scheduler(self) -> subprocess.Popen:
        return self.start("scheduler")

    def wait_ready(self, connection: Redis, workers: int = 1, scheduler: bool = True) -> None:
        """Until the workers and the scheduler started so far are registered in Redis."""
        from rq import Worker
        from rq.cron import CronScheduler

        wait_for(
            lambda: (
                len(Worker.all(connection=connection)) >= workers
                and (not scheduler or len(CronScheduler.all(connection)) >= 1)
            ),
            "the worker and scheduler processes start",
            60,
        )

    def log_of(self, process: subprocess.Popen) -> str:
        for _, started, log in self.started:
            if started is process:
                return log.read_text(errors="replace")
        raise KeyError(process.pid)

    def stop_all(self) -> None:
        for _, process, _ in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, process, _ in self.started:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_hard(process)

    def show_logs(self) -> None:
        """Printed by pytest when a test failed: what the processes said about jobs."""
        for _, process, log in self.started:
            lines = log.read_text(errors="replace").splitlines()
            telling = [
                line
                for line in lines
                if any(word in line for word in ("event", "etry", "rror", "arning", "Traceback"))
            ]
            print(
                f"--- {log.name} (pid {process.pid}, exit {process.poll()})",
                *telling[-60:],
                sep="\n",
            )


def kill_hard(process: subprocess.Popen) -> None:
    """kill -9 a process and anything it started."""
    with contextlib.suppress(psutil.NoSuchProcess):
        family = psutil.Process(process.pid).children(recursive=True)
        for member in [psutil.Process(process.pid), *family]:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
    process.wait(timeout=10)


# ---------------------------------------------------------------- the service under test


@dataclass
class Stack:
    """One test's service: the wired kindred and app of the test process, the processes, and
    the servers behind them."""

    kindred: Kindred
    app: object
    processes: Processes
    servers: Servers
    coordinator: Caller

    @property
    def redis(self) -> Redis:
        return self.kindred.redis

    def use_smtp(self, url: str) -> None:
        """Email over SMTP at `url`, for the processes started from now on and this one."""
        self.kindred.settings = dataclasses.replace(self.kindred.settings, smtp_url=url)
        self.processes.env["KINDRED_SMTP_URL"] = url

    def partner(self, name: str = "Garden Friends") -> Caller:
        return make_partner(self.coordinator, self.app, name, verified=True)

    def catalogue(self, partner: Caller) -> list[int]:
        """Two live listings near the members, their fan-out run (no member exists yet)."""
        ids = []
        for title, interests in (("Gentle garden club", ["gardening"]), ("Chess", ["chess"])):
            response = partner.post(
                "/api/v1/listings", json=listing_body(title=title, interests=interests)
            )
            assert response.status_code == 201, response.json
            ids.append(response.json["id"])
        run_worker(self.kindred)
        return ids

    def members(self, count: int, prefix: str = "m", **overrides) -> list[Caller]:
        """Members who may ask for matches; the re-match a newcomer gets a minute after
        signing up is switched off, so each member's requests are the test's own."""
        made = [
            sign_up(self.app, email=f"{prefix}{n}@example.org", display_name=f"M{n}", **overrides)
            for n in range(count)
        ]
        with self.kindred.uow() as uow:
            uow.session.execute(sa.update(Member).values(rematch_due_at=None))
            uow.commit()
        return made


@pytest.fixture
def stack(servers, tmp_path, request) -> Stack:
    truncate_all(servers.database_url)
    settings = Settings(
        database_url=servers.database_url,
        redis_url=servers.redis.url,
        secret_key="fault-test-secret-key",
        var_dir=tmp_path / "var",
        webhook_allow_private=True,
    )
    # Every request of a test comes from one address: the abuse limits (where the tree has
    # them) are not what is tested here.
    generous = {
        f.name: "100000 per minute"
        for f in dataclasses.fields(Settings)
        if f.name.endswith("_rate_limit")
    }
    settings = dataclasses.replace(settings, **generous)
    kindred = bootstrap(settings)
    kindred.redis.flushall()
    context.use(kindred)
    app = create_app(kindred=kindred)  # TESTING off: errors are answered, not raised
    processes = Processes(
        tmp_path,
        {
            **{k: v for k, v in os.environ.items() if not k.startswith("KINDRED_FAULT_")},
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "KINDRED_VAR_DIR": str(settings.var_dir),
            "SECRET_KEY": settings.secret_key,
            "KINDRED_WEBHOOK_ALLOW_PRIVATE": "1",
            "KINDRED_LOG_LEVEL": "INFO",
        },
    )
    account = create_coordinator(kindred.uow(), "coord@example.org", "Coord", "a long password")
    coordinator = Caller(app.test_client(), account.token)
    yield Stack(kindred, app, processes, servers, coordinator)
    processes.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        processes.show_logs()
    # A restart test may leave a server down when it failed half-way: the next test needs it.
    if servers.redis.process is None or servers.redis.process.poll() is not None:
        servers.redis.start()
    if not (servers.postgres.data / "postmaster.pid").exists():
        servers.postgres.start()
    kindred.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


# ---------------------------------------------------------------- outside parties


class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that counts the messages it accepted by
    Message-ID; stopped, and started again on the same port."""

    def __init__(self):
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.received: Counter = Counter()
        self._controller = None

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received[message["Message-ID"]] += 1
        return "250 Message accepted for delivery"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    yield sink
    sink.stop()


class WebhookTarget:
    """A partner's server on loopback. It holds the next `hold` requests longer than kindred's
    client waits (they time out), and answers the others 204 at once. It counts every request
    it got and every 2xx it sent in time, by webhook-id."""

    HOLD_SECONDS = 20

    def __init__(self):
        self.received: Counter = Counter()
        self.answered: Counter = Counter()
        self.hold = 0
        self._lock = threading.Lock()
        self._released = threading.Event()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                message_id = self.headers["webhook-id"]
                target.received[message_id] += 1
                with target._lock:
                    held, target.hold = target.hold > 0, max(0, target.hold - 1)
                if held:  # longer than the client waits: it has left when this answers
                    target._released.wait(target.HOLD_SECONDS)
                with contextlib.suppress(OSError):
                    self.send_response(204)
                    self.end_headers()
                    if not held:
                        target.answered[message_id] += 1

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that timed out and left: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_target():
    target = WebhookTarget()
    yield target
    target.close()


class Ledger:
    """What the clients were told: accepted match requests, refused ones (and why)."""

    def __init__(self):
        self.accepted: dict[int, int] = {}  # member id -> match request id
        # member id, status, body, Retry-After
        self.refused: list[tuple[int, int, dict | None, str | None]] = []
        self._lock = threading.Lock()

    def ask(self, member: Caller):
        response = member.post("/api/v1/members/me/match-requests")
        with self._lock:
            if response.status_code == 202:
                self.accepted[member.member_id] = response.json["id"]
            else:
                self.refused.append(
                    (
                        member.member_id,
                        response.status_code,
                        response.json,
                        response.headers.get("Retry-After"),
                    )
                )
        return response


class Load(threading.Thread):
    """Members asking for matches one after another, `interval` apart, while a fault happens;
    `latencies` keeps how long each answer took."""

    def __init__(self, ledger: Ledger, members: list[Caller], interval: float):
        super().__init__(name="load", daemon=True)
        self.ledger, self.members, self.interval = ledger, members, interval
        self.latencies: list[float] = []
        self.asked = 0

    def run(self) -> None:
        for member in self.members:
            started = time.monotonic()
            self.ledger.ask(member)
            self.latencies.append(time.monotonic() - started)
            self.asked += 1
            time.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    def finish(self, timeout: float = DEADLINE_SECONDS) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the load did not finish"


@dataclass
class Figures:
    scenario: str
    accepted: int = 0
    refused: int = 0
    results: int = 0
    duplicates: int = 0
    lost: int = 0
    recovery_seconds: float | None = None
    notes: list[str] = field(default_factory=list)


FIGURES: list[Figures] = []


@pytest.fixture
def figures(request) -> Figures:
    found = Figures(request.node.name.removeprefix("test_"))
    yield found
    FIGURES.append(found)


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault figures")
    write(
        f"{'scenario':<58} {'accepted':>8} {'refused':>7} {'results':>7} "
        f"{'dup':>4} {'lost':>4} {'recovery':>9}"
    )
    for f in FIGURES:
        seconds = "-" if f.recovery_seconds is None else f"{f.recovery_seconds:.1f} s"
        write(
            f"{f.scenario[:58]:<58} {f.accepted:>8} {f.refused:>7} {f.results:>7} "
            f"{f.duplicates:>4} {f.lost:>4} {seconds:>9}"
        )
        for note in f.notes:
            write(f"    {note}")


# ---------------------------------------------------------------- the check


@dataclass
class Tally:
    results: int = 0
    duplicates: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)

    def lose(self, what: str) -> None:
        self.lost += 1
        self.problems.append(f"lost: {what}")

    def double(self, what: str, times: int) -> None:
        self.duplicates += times - 1
        self.problems.append(f"{times}x: {what}")


def tally(
    kindred: Kindred,
    ledger: Ledger,
    mail_ids: Counter | None = None,
    webhook_ids: Counter | None = None,
) -> Tally:
    """Every accepted request at its result once: the request done with its suggestions, one
    "ready" note, one email per email delivery (by Message-ID at the SMTP server), one
    successful webhook call per delivery (by webhook-id), every outbox event handled, and no
    event job left in a queue, running, waiting to retry, or dead without a record."""
    found = Tally()
    with kindred.uow(publish=False) as uow:
        session = uow.session
        for member_id, request_id in ledger.accepted.items():
            request = session.get(MatchRequest, request_id)
            if request is None or request.member_id != member_id:
                found.lose(f"match request {request_id}")
                continue
            if request.status.value != "done":
                found.lose(f"match request {request_id} is {request.status.value}")
                continue
            stored = session.scalar(
                sa.select(sa.func.count())
                .select_from(Suggestion)
                .where(Suggestion.match_request_id == request_id)
            )
            if stored != request.group_count + request.peer_count or stored == 0:
                found.problems.append(f"request {request_id}: {stored} suggestions stored")
                found.lose(f"suggestions of request {request_id}")
                continue
            notes = session.scalar(
                sa.select(sa.func.count())
                .select_from(Notification)
                .where(Notification.subject == f"match_request:{request_id}")
            )
            if notes == 0:
                found.lose(f"the note for request {request_id}")
                continue
            if notes > 1:
                found.double(f"notes for request {request_id}", notes)
            found.results += 1
        for member_id, status, _, _ in ledger.refused:
            written = session.scalar(
                sa.select(sa.func.count())
                .select_from(MatchRequest)
                .where(MatchRequest.member_id == member_id)
            )
            if written and member_id not in ledger.accepted:
                found.problems.append(f"refused ({status}) but written: member {member_id}")
                found.duplicates += written
        if mail_ids is not None:
            emailed = session.scalars(
                sa.select(NotificationDelivery.notification_id).where(
                    NotificationDelivery.channel == "email"
                )
            ).all()
            for notification_id in emailed:
                times = mail_ids.get(f"<notification-{notification_id}@kindred>", 0)
                if times == 0:
                    found.lose(f"the email of notification {notification_id}")
                elif times > 1:
                    found.double(f"emails of notification {notification_id}", times)
        if webhook_ids is not None:
            for message_id in session.scalars(sa.select(WebhookDelivery.message_id)):
                times = webhook_ids.get(message_id, 0)
                if times == 0:
                    found.lose(f"webhook {message_id}")
                elif times > 1:
                    found.double(f"webhook {message_id} answered 2xx", times)
        unhandled = session.scalars(
            sa.select(OutboxEvent.id).where(OutboxEvent.handled_at.is_(None))
        ).all()
        for event_id in unhandled:
            found.lose(f"outbox event {event_id} unhandled")
        recorded = set(session.scalars(sa.select(JobFailure.job_id)))
    redis = kindred.redis
    for name in ALL_QUEUES:
        q = queue(name, redis)
        for place, ids in (
            ("queued", q.get_job_ids()),
            ("running", q.started_job_registry.get_job_ids()),
            ("waiting to retry", q.scheduled_job_registry.get_job_ids()),
        ):
            for job in ids:
                if job.startswith("event-"):
                    found.lose(f"job {job} still {place}")
        for job in q.failed_job_registry.get_job_ids():
            if job.startswith("event-") and job not in recorded:
                found.lose(f"job {job} dead without a job_failures row")
    return found


def wait_settled(
    kindred: Kindred, ledger: Ledger, what: str, timeout: float = DEADLINE_SECONDS, **counters
) -> float:
    """Poll until nothing is lost any more; at the deadline, fail with what still is."""
    last: list = []

    def settled() -> bool:
        try:
            found = tally(kindred, ledger, **counters)
        except Exception as error:  # a server still restarting
            last[:] = [f"{type(error).__name__}: {error}"]
            return False
        last[:] = found.problems
        return found.lost == 0

    try:
        return wait_for(settled, what, timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}; still: {last[:20]}") from None


def check_exactly_once(
    kindred: Kindred, ledger: Ledger, figures: Figures, expect_results: int | None = None, **kw
):
    """The final assertion of every fault test, with its figures recorded."""
    found = tally(kindred, ledger, **kw)
    figures.accepted, figures.refused = len(ledger.accepted), len(ledger.refused)
    figures.results, figures.duplicates, figures.lost = found.results, found.duplicates, found.lost
    assert found.problems == []
    assert found.duplicates == 0 and found.lost == 0
    assert found.results == len(ledger.accepted)
    if expect_results is not None:
        assert found.results == expect_results
    return found


def event_job_status(kindred: Kindred, event_id: int) -> str | None:
    from rq.job import Job

    from workers.queues import SERIALIZER

    try:
        return Job.fetch(job_id(event_id), kindred.redis, serializer=SERIALIZER).get_status()
    except Exception:
        return None
