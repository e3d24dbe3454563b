"""docker-compose.yml's kindred commands, run here as processes, without Docker.

The commands (and the image's entry point) are read from docker-compose.yml and the Dockerfile,
the compose `environment` is mapped to this machine's PostgreSQL and Redis, and .env.example
stands in for .env. Then: `migrate` runs to completion, `api`, `worker` and `scheduler` start,
the API gets ready, a coordinator (`kindred create-coordinator`) registers an organization whose
listing goes live, a member signs up with consent and asks for matches, and the worker answers.
The worker's and scheduler's health checks pass while they run, and every process stops cleanly
on SIGTERM (exit 0), after which those health checks fail.

PostgreSQL from DATABASE_URL, in a schema of this test's own (`kindred_compose_test`); Redis from
REDIS_URL (else the session's embedded server), in database 11. Skipped without PostgreSQL,
like the other PostgreSQL tests.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import sqlalchemy as sa
import yaml
from redis import Redis

from service.adapters.database import make_engine
from tests.conftest import postgres_or_skip, reset_postgres_schema, with_search_path
from tests.integration.api.conftest import listing_body
from tests.support import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "kindred_compose_test"
REDIS_DB = 11
BIN = Path(sys.executable).parent
READY_SECONDS = 30
MATCH_SECONDS = 30
STOP_SECONDS = 30


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def entrypoint() -> list[str]:
    match = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", (ROOT / "Dockerfile").read_text(), re.M)
    return yaml.safe_load(match.group(1))


def env_example() -> dict[str, str]:
    """The active assignments of .env.example, as compose's env_file reads them."""
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            found[name] = value
    return found


def redis_db_url(url: str, db: int) -> str:
    if url.startswith("unix://"):  # the embedded server: unix:///path/redis.socket[?db=N]
        return f"{url.split('?', 1)[0]}?db={db}"
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


def local_argv(service: dict, port: int | None = None) -> list[str]:
    """The container's argv with the entry point from this virtualenv; the API on a free local
    port, with two gunicorn workers instead of four (a shared test machine)."""
    argv = [*entrypoint(), *service["command"]]
    argv[0] = str(BIN / argv[0])
    replacements = {"--host": "127.0.0.1", "--port": str(port), "--workers": "2"}
    for option, value in replacements.items():
        if option in argv:
            argv[argv.index(option) + 1] = value
    return argv


@pytest.fixture
def stack(tmp_path, redis_url):
    base = postgres_or_skip()
    reset_postgres_schema(base, SCHEMA)
    local_redis = redis_db_url(redis_url, REDIS_DB)
    redis = Redis.from_url(local_redis)
    redis.flushdb()
    # What each compose `environment` entry becomes here; a new entry fails until mapped.
    local = {
        "DATABASE_URL": with_search_path(base, SCHEMA),
        "REDIS_URL": local_redis,
        "KINDRED_SMTP_URL": "maildir",  # no mail sink here: emails land in KINDRED_VAR_DIR
    }
    services = compose_services()
    for name in ("migrate", "api", "worker", "scheduler"):
        assert set(services[name]["environment"]) == set(local), name
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        **env_example(),
        **local,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "KINDRED_VAR_DIR": str(tmp_path / "var"),  # set by the Dockerfile in the image
    }
    try:
        yield services, env, tmp_path
    finally:
        redis.flushdb()
        redis.close()
        engine = make_engine(base)
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        engine.dispose()


def start(name: str, argv: list[str], env: dict, logs: Path) -> subprocess.Popen:
    with (logs / f"{name}.log").open("wb") as log:  # the child keeps its own copy
        return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def health_check(service: dict, env: dict) -> int:
    """Runs the service's compose health check here (the hostname is this machine's)."""
    test = service["healthcheck"]["test"]
    assert test[:2] == ["CMD", "kindred"]
    argv = [sys.executable, "-m", "service.cli", *test[2:]]
    return subprocess.run(argv, env=env, cwd=ROOT, timeout=30, capture_output=True).returncode


def wait_until(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def ready(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


def logs_of(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in folder.glob("*.log"))


def test_the_compose_commands_run_the_service_end_to_end(stack):
    services, env, tmp_path = stack
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    began = time.monotonic()

    def phase(what: str) -> None:
        print(f"{time.monotonic() - began:5.1f} s  {what}")  # shown with -s or -rP

    migrate = subprocess.run(
        local_argv(services["migrate"]), env=env, cwd=ROOT, capture_output=True, timeout=60
    )
    assert migrate.returncode == 0, migrate.stderr.decode()[-3000:]

    phase("migrate exited 0")
    processes = {
        name: start(name, local_argv(services[name], port), env, logs)
        for name in ("api", "worker", "scheduler")
    }
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        wait_until(lambda: ready(client), READY_SECONDS, "/readyz")
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited\n{logs_of(logs)}"
        phase("the API is ready")

        coordinator = subprocess.run(
            [
                str(BIN / "kindred"),
                *("create-coordinator", "--email", "coord@example.org", "--name", "Coordinator"),
                *("--password", "a long enough password"),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert coordinator.returncode == 0, coordinator.stderr[-3000:]
        coordinator_token = coordinator.stdout.strip().splitlines()[-1]
        assert coordinator_token.startswith("kc_")

        def call(method, path, token, **kwargs):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return client.request(method, f"/api/v1{path}", headers=headers, **kwargs)

        organization = call(
            "POST",
            "/organizations",
            coordinator_token,
            json={"name": "Compose Gardeners", "contact_email": "team@gardeners.example"},
        )
        assert organization.status_code == 201, organization.text
        organization_id = organization.json()["organization"]["id"]
        partner = organization.json()["api_key"]["secret"]
        verified = call(
            "PATCH", f"/organizations/{organization_id}", coordinator_token, json={"verified": True}
        )
        assert verified.status_code == 200, verified.text

        listing = call(
            "POST",
            "/listings",
            partner,
            json=listing_body(),
        )
        assert listing.status_code == 201, listing.text
        assert listing.json()["status"] == "active"
        listing_id = listing.json()["id"]

        member = call(
            "POST",
            "/members",
            None,
            json={
                "display_name": "Ann",
                "email": "ann@example.org",
                "interests": ["gardening"],
                "causes": ["environment"],
                "lat": 51.46,
                "lon": -2.59,
                "travel_radius_km": 5,
                "availability": ["sat_morning"],
                "consents": {"matching": True, "peer_introductions": False},
            },
        )
        assert member.status_code == 201, member.text
        member_token = member.json()["token"]

        phase("coordinator, organization, live listing, member")
        asked = call("POST", "/members/me/match-requests", member_token)
        assert asked.status_code == 202, asked.text
        location = asked.headers["Location"]

        def done():
            answer = client.get(location, headers={"Authorization": f"Bearer {member_token}"})
            assert answer.json()["status"] != "failed", answer.text
            return answer.json()["status"] == "done"

        wait_until(done, MATCH_SECONDS, f"the match request to be done\n{logs_of(logs)}")
        phase("the match request is done")
        suggestions = call("GET", "/members/me/suggestions", member_token).json()
        groups = [group["listing"]["id"] for group in suggestions["groups"]]
        assert listing_id in groups, suggestions

        for name in ("worker", "scheduler"):
            assert health_check(services[name], env) == 0, name
        phase("worker and scheduler health checks pass")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in processes.items():
            try:
                codes[name] = process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = "killed"
    phase(f"stopped by SIGTERM: {codes}")
    assert codes == {"api": 0, "worker": 0, "scheduler": 0}, f"{codes}\n{logs_of(logs)}"
    # Stopped cleanly, they unregistered: their health checks now fail.
    for name in ("worker", "scheduler"):
        assert health_check(services[name], env) != 0, name
