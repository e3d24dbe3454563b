"""bench/load.py at a small size: the whole service (gunicorn -w 2, two workers, the scheduler)
on PostgreSQL and Redis under concurrent clients loses and doubles nothing.

It runs in a schema of its own (kindred_load_quick) in DATABASE_URL's database and in a Redis
database of its own on REDIS_URL's server (12, or KINDRED_LOAD_TEST_REDIS_DB), both wiped by the
benchmark, so it never touches the other tests' schema (kindred_test) or Redis database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from service.adapters.database import make_engine
from tests.conftest import postgres_or_skip

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "kindred_load_quick"


def load_redis_url() -> str:
    """REDIS_URL's server, in a database of the load test's own."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL does not name a Redis server")
    database = os.environ.get("KINDRED_LOAD_TEST_REDIS_DB", "12")
    if database == urlsplit(url).path.strip("/"):
        pytest.skip("KINDRED_LOAD_TEST_REDIS_DB is REDIS_URL's own database, which it would flush")
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest.fixture
def postgres_url():
    url = postgres_or_skip()
    yield url
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    engine.dispose()


def test_a_small_load_loses_and_doubles_nothing(postgres_url, tmp_path):
    redis_url = load_redis_url()
    out = tmp_path / "load.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.load"),
            *("--database-url", postgres_url, "--schema", SCHEMA, "--redis-url", redis_url),
            *("--requests", "300", "--listings", "30", "--members", "30"),
            *("--baseline-requests", "200", "--deadline", "240"),
            *("--json", str(out), "--chart", str(tmp_path / "load.png")),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "KINDRED_BENCH_CACHE": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    figures = {m["name"]: m for m in result["measurements"]}
    assert figures["load.lost"]["value"] == 0, figures["load.lost"]
    assert figures["load.duplicated"]["value"] == 0, figures["load.duplicated"]
    assert result["non_2xx"] == {}
    assert result["drained"] is True
    assert result["match_requests_accepted"] == 300
    assert result["listings_accepted"] == 30
    # Thirty members asking ten times each: some asks found their request still waiting.
    assert 30 <= result["distinct_match_requests"] <= 300
    assert result["facts"]["active_listings"] >= 30
    for name in ("load.accepted_per_s", "load.http_match_p99_ms", "load.e2e_match_p99_s"):
        assert figures[name]["value"] > 0 and figures[name]["baseline"] > 0, figures[name]
    assert (tmp_path / "load.png").stat().st_size > 0
