"""The benchmarks in quick mode: the catalogue is API-shaped and every script runs end to end.

They read the real data sets in ../shared/data (KINDRED_SHARED_DATA overrides) and skip without
them; caches go to a temporary folder (KINDRED_BENCH_CACHE), never to the repository's var/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("KINDRED_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")
needs_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"real data not found at {SHARED_DATA} (KINDRED_SHARED_DATA)"
)
# Fields the matcher reads that the write schemas do not take (set by the service, not the user).
SERVICE_FIELDS = ("id", "status", "popularity")


@pytest.fixture
def bench_env(tmp_path, monkeypatch) -> dict:
    monkeypatch.setenv("KINDRED_BENCH_CACHE", str(tmp_path / "cache"))
    return {**os.environ, "KINDRED_BENCH_CACHE": str(tmp_path / "cache")}


def run_module(module: str, *options: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *options],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@needs_data
def test_catalogue_listings_and_profiles_pass_the_api_schemas(bench_env):
    from bench.catalogue import load_or_build
    from service.api.listings import ListingWriteSchema
    from service.api.members import ProfileFields

    catalogue = load_or_build(SHARED_DATA, 300, 300, seed=3)

    listings = [{k: v for k, v in x.items() if k not in SERVICE_FIELDS} for x in catalogue.listings]
    assert ListingWriteSchema(many=True).validate(listings) == {}
    profiles = [
        {**{k: v for k, v in p.items() if k not in ("id", "consents")}, "display_name": "A"}
        for p in catalogue.profiles
    ]
    assert ProfileFields(many=True).validate(profiles) == {}
    assert catalogue.interactions, "some members joined something, for the collaborative signal"


@needs_data
def test_catalogue_is_seeded_and_cached(bench_env):
    from bench.catalogue import build, cache_path, load_or_build

    first = load_or_build(SHARED_DATA, 200, 200, seed=5)
    assert cache_path(200, 200, 5).exists()
    assert build(SHARED_DATA, 200, 200, seed=5).listings == first.listings


def test_without_the_shared_data_a_benchmark_says_so_and_exits_0(bench_env, tmp_path):
    env = {**bench_env, "KINDRED_SHARED_DATA": str(tmp_path / "missing")}
    done = run_module("bench.top5_one_member", "--listings", "100", "--members", "100", env=env)
    assert done.returncode == 0
    assert "shared data not found" in done.stdout


@pytest.mark.slow
@needs_data
def test_quick_run_of_every_benchmark_writes_results_and_chart(bench_env, tmp_path):
    out = tmp_path / "out"
    size = ("--listings", "400", "--members", "400")
    done = run_module("bench.run_all", *size, "--out", str(out), env=bench_env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert [r["benchmark"] for r in results] == [
        "top5_one_member",
        "rematch_all",
        "new_listing_fanout",
        "model_memory",
    ]
    for figure in (m for r in results for m in r["measurements"]):
        assert figure["value"] > 0
        assert figure["ratio"] is None or figure["ratio"] > 0
    assert (out / "results.png").stat().st_size > 0


@pytest.mark.slow
def test_quick_run_of_the_pipeline_benchmarks(bench_env, tmp_path):
    """The pipeline's benchmarks at toy sizes: each runs end to end on its own demo data and
    reports a figure with a baseline from the same run."""
    runs = {
        "outbox_relay": ("--events", "200", "--batch", "50"),
        "listing_fanout_db": ("--members", "300"),
        "match_latency": (
            *("--rate", "5", "--seconds", "3", "--members", "20"),
            *("--chart", str(tmp_path / "latency.png")),
        ),
        "dashboard_overview": ("--members", "500", "--listings", "50", "--repeats", "3"),
        "follow_ups": ("--members", "500", "--listings", "50", "--repeats", "2"),
    }
    for name, options in runs.items():
        out = tmp_path / f"{name}.json"
        done = run_module(f"bench.{name}", *options, "--json", str(out), env=bench_env)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        for figure in json.loads(out.read_text())["measurements"]:
            assert figure["value"] > 0 and figure["baseline"] > 0, figure
    fanout = json.loads((tmp_path / "listing_fanout_db.json").read_text())["measurements"][0]
    assert fanout["outcome"].endswith("of 300 members told") and fanout["members_scored"] == 300
    latency = json.loads((tmp_path / "match_latency.json").read_text())["measurements"]
    assert latency[1]["requests"] == 15
    assert (tmp_path / "latency.png").stat().st_size > 0
    overview = json.loads((tmp_path / "dashboard_overview.json").read_text())["measurements"][0]
    assert overview["requests"] == 3 and overview["database"] == "sqlite"
    scan, send = json.loads((tmp_path / "follow_ups.json").read_text())["measurements"]
    assert scan["due"] > 0 and send["sent"] > 0  # it found some due, and sent them


@pytest.mark.slow
@needs_data
def test_quick_run_of_the_region_scaling_benchmark(bench_env, tmp_path):
    """Two region shards of 10,000 members and 1,000 listings, each fitted in its own process,
    against both fitted as one model: every figure per shard, a ratio to the whole, a chart."""
    out, png = tmp_path / "scale_regions.json", tmp_path / "scale_regions.png"
    size = ("--members", "20000", "--listings", "2000", "--regions", "2", "--sample", "20")
    done = run_module(
        "bench.scale_regions", *size, "--json", str(out), "--chart", str(png), env=bench_env
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert [s["region"] for s in result["shards"]] == ["0", "1"]
    assert all(s["members"] == 10_000 for s in result["shards"])
    assert result["whole"]["members"] == 20_000
    for figure in result["measurements"]:
        assert figure["value"] > 0 and figure["baseline"] > 0 and figure["ratio"] > 0, figure
    assert png.stat().st_size > 0


@pytest.mark.slow
def test_quick_run_of_the_shared_model_benchmark(bench_env, tmp_path):
    """Three worker processes after one change: alone, each fits; sharing, one fits and the two
    others load its model. The figures and chart come from that same run."""
    out, png = tmp_path / "shared_model.json", tmp_path / "shared_model.png"
    options = ("--members", "500", "--workers", "3", "--json", str(out), "--chart", str(png))
    done = run_module("bench.shared_model", *options, env=bench_env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert (result["ways"]["alone"]["fits"], result["ways"]["alone"]["loads"]) == (3, 0)
    assert (result["ways"]["shared"]["fits"], result["ways"]["shared"]["loads"]) == (1, 2)
    for figure in result["measurements"]:
        assert figure["value"] > 0 and figure["baseline"] > 0, figure
    assert png.stat().st_size > 0
