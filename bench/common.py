"""What every benchmark shares: arguments, the catalogue and fitted matcher caches, timing, output.

Benchmarks print a figure and its ratio to a baseline measured in the same run; they never assert
on time, because a timing assertion fails on a busy machine and passes on a fast one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Gitignored: catalogues and fitted models are rebuilt. Tests point it at a temporary folder.
CACHE_DIR = Path(os.environ.get("KINDRED_BENCH_CACHE") or REPO_ROOT / "var" / "bench")
RESULTS_DIR = CACHE_DIR / "results"
# The evaluation's files change often and do not change a fitted model.
NOT_MATCHER_SOURCES = {"datasets.py", "evaluation.py"}


def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes, so `run_all` can pass the same ones to each."""
    parse = argparse.ArgumentParser(description=description)
    parse.add_argument("--listings", type=int, default=100_000, help="catalogue size")
    parse.add_argument("--members", type=int, default=100_000, help="number of member profiles")
    parse.add_argument("--seed", type=int, default=7, help="seed for the catalogue and samples")
    parse.add_argument("--json", type=Path, help="also write the measurements to this file")
    return parse


def shared_data_dir() -> Path:
    """KINDRED_SHARED_DATA, else ../shared/data beside the repository (never copied into it)."""
    return Path(os.environ.get("KINDRED_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")


def exit_without_data(data_dir: Path) -> None:
    """Missing data is not a failure of the code: say so and stop with status 0."""
    print(f"bench: shared data not found at {data_dir}; set KINDRED_SHARED_DATA to run benchmarks")
    sys.exit(0)


def catalogue(args):
    from bench.catalogue import load_or_build

    data_dir = shared_data_dir()
    if not data_dir.is_dir():
        exit_without_data(data_dir)
    return load_or_build(data_dir, args.listings, args.members, args.seed)


def matcher_code_hash() -> str:
    """Part of the fitted-model cache key: a change to the matcher's code means a refit."""
    digest = hashlib.sha1()
    for source in sorted((REPO_ROOT / "service" / "matching").glob("*.py")):
        if source.name not in NOT_MATCHER_SOURCES:
            digest.update(source.read_bytes())
    return digest.hexdigest()[:10]


def model_path(args, code_hash: str) -> Path:
    return CACHE_DIR / f"matcher-L{args.listings}-M{args.members}-s{args.seed}-{code_hash}.pkl"


def fitted_matcher(args, data):
    """(matcher, fit seconds or None, model file): the matcher fitted on the catalogue, loaded
    from var/bench when this version of the matcher's code already fitted it."""
    from service.matching import GroupMatcher, persistence

    path = model_path(args, matcher_code_hash())  # hashed once: the code may change meanwhile
    if path.exists():
        print(f"loading fitted matcher {path.name}")
        return persistence.load(path), None, path
    print(f"fitting GroupMatcher on {len(data.listings):,} listings ...", flush=True)
    started = time.perf_counter()
    matcher = GroupMatcher().fit(data.listings, data.interactions, data.profiles)
    fit_seconds = time.perf_counter() - started
    print(f"fitted in {fit_seconds:.1f} s; saving {path.name}")
    remove_stale_models(path)
    persistence.save(matcher, path)
    return matcher, fit_seconds, path


def remove_stale_models(current: Path) -> None:
    """Models fitted by older matcher code for the same catalogue are never read again."""
    prefix = current.name.rsplit("-", 1)[0] + "-"
    for old in CACHE_DIR.glob(prefix + "*"):
        if old.is_file() and not old.name.startswith(current.stem):
            old.unlink()


def timed(function, *arguments) -> tuple[float, object]:
    started = time.perf_counter()
    value = function(*arguments)
    return time.perf_counter() - started, value


def median_ms(seconds: list[float]) -> float:
    return 1000 * statistics.median(seconds)


def percentile_ms(seconds: list[float], fraction: float) -> float:
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measurement(
    name: str,
    value: float,
    unit: str,
    target: float | None,
    baseline: float | None = None,
    ratio_target: float | None = None,
    **details,
) -> dict:
    """One figure against its target; ratio is figure / baseline when a baseline was measured."""
    ratio = value / baseline if baseline else None
    return {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "target": target,
        "meets_target": None if target is None else value <= target,
        "baseline": None if baseline is None else round(baseline, 4),
        "ratio": None if ratio is None else round(ratio, 2),
        "ratio_target": ratio_target,
        "meets_ratio_target": None
        if ratio_target is None or ratio is None
        else ratio <= ratio_target,
        **details,
    }


STANDARD_KEYS = set(measurement("x", 1, "", 1, 1, 1))


def report(benchmark: str, args, measurements: list[dict], **context) -> dict:
    """Print each figure with its target and ratio; write JSON when asked."""
    sizes = f" ({args.listings:,} listings, {args.members:,} members)" if args.listings else ""
    print(f"\n== {benchmark}{sizes}")
    for m in measurements:
        line = f"{m['name']}: {m['value']:,.2f} {m['unit']}"
        if m["target"] is not None:
            verdict = "meets" if m["meets_target"] else "MISSES"
            line += f" (target <= {m['target']:,} {verdict})"
        if m["ratio"] is not None:
            line += f"; baseline {m['baseline']:,.2f} {m['unit']}, ratio {m['ratio']:.2f}x"
            if m["ratio_target"] is not None:
                ok = "meets" if m["meets_ratio_target"] else "MISSES"
                line += f" (target <= {m['ratio_target']}x {ok})"
        print(line)
        extra = {k: v for k, v in m.items() if k not in STANDARD_KEYS}
        if extra:
            print("   ", ", ".join(f"{k}={v}" for k, v in extra.items()))
    result = {
        "benchmark": benchmark,
        "listings": args.listings,
        "members": args.members,
        "seed": args.seed,
        "cpu_count": os.cpu_count(),
        "measurements": measurements,
        **context,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return result
