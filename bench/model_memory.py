"""Memory and load time of a fitted matcher for the whole catalogue.

Targets: <= 500 MB resident and <= 2 s to load with `persistence.load`. Each figure is measured
in a fresh Python process, so nothing else the benchmark holds is counted: the process imports
numpy, scipy, scikit-learn and the matcher first, then the growth of its resident set (RSS) while
loading is the model's footprint. Baseline: the same listing TF-IDF as a bare scipy sparse matrix
(`save_npz`/`load_npz`, uncompressed like the model), measured the same way.

    python -m bench.model_memory [--listings 5000 --members 5000]
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common

TARGET_MB = 500.0
TARGET_LOAD_S = 2.0
MB = 1024 * 1024


# ---------------------------------------------------------------- inside a fresh process


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MB


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(work) -> dict:
    """Seconds for `work`, and how much the process grew while keeping its result."""
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    kept = work()
    seconds = time.perf_counter() - started
    gc.collect()
    after = rss_mb()
    del kept
    return {"seconds": seconds, "growth_mb": after - before, "peak_growth_mb": peak_mb() - before}


def child(kind: str, path: Path) -> dict:
    import pickle

    import scipy.sparse as sp

    # Imported before measuring (with numpy and scikit-learn): libraries are not the model.
    from service.matching import GroupMatcher, persistence

    if kind == "model":
        return measure(lambda: persistence.load(path))
    if kind == "npz":
        return measure(lambda: sp.load_npz(path))
    with path.open("rb") as handle:  # the catalogue is loaded first: it is not the model
        data = pickle.load(handle)
    return measure(lambda: GroupMatcher().fit(data.listings, data.interactions, data.profiles))


# ---------------------------------------------------------------- the benchmark


def in_fresh_process(kind: str, path: Path) -> dict:
    command = [sys.executable, "-m", "bench.model_memory", "--child", kind, str(path)]
    done = subprocess.run(command, cwd=common.REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def repeated(kind: str, path: Path, repeats: int) -> dict:
    """Median seconds and growth over several fresh processes (the page cache is warm after the
    first, as it would be for a worker restarting on the same machine)."""
    runs = [in_fresh_process(kind, path) for _ in range(repeats)]
    print(
        f"  {kind}: " + ", ".join(f"{r['seconds']:.2f} s / {r['growth_mb']:.0f} MB" for r in runs)
    )
    return {
        key: statistics.median(r[key] for r in runs)
        for key in ("seconds", "growth_mb", "peak_growth_mb")
    }


def save_bare_tfidf(matcher, model: Path) -> Path:
    import scipy.sparse as sp

    path = model.with_suffix(".tfidf.npz")
    both = sp.hstack([matcher.listing_interest_, matcher.listing_cause_]).tocsr()
    sp.save_npz(path, both, compressed=False)
    return path


def main() -> dict:
    parse = common.parser(__doc__.splitlines()[0])
    parse.add_argument("--repeats", type=int, default=3, help="fresh processes per figure")
    parse.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse_hidden())
    args = parse.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return {}
    data = common.catalogue(args)
    matcher, _, model = common.fitted_matcher(args, data)
    npz = save_bare_tfidf(matcher, model)
    del matcher, data
    print(f"loading in fresh processes ({args.repeats} each) ...", flush=True)
    loaded, bare = repeated("model", model, args.repeats), repeated("npz", npz, args.repeats)
    print("fitting in a fresh process ...", flush=True)
    catalogue_file = catalogue_path(args)
    fitted = in_fresh_process("fit", catalogue_file)
    print(f"  fit: {fitted['seconds']:.1f} s, peak growth {fitted['peak_growth_mb']:.0f} MB")
    model_mb, npz_mb = os.path.getsize(model) / MB, os.path.getsize(npz) / MB
    figures = [
        common.measurement(
            "model_memory.resident",
            loaded["growth_mb"],
            "MB",
            TARGET_MB,
            baseline=bare["growth_mb"],
            fitted_growth_mb=round(fitted["growth_mb"], 1),
            fit_peak_growth_mb=round(fitted["peak_growth_mb"], 1),
            load_peak_growth_mb=round(loaded["peak_growth_mb"], 1),
        ),
        common.measurement(
            "model_memory.load_time",
            loaded["seconds"],
            "s",
            TARGET_LOAD_S,
            baseline=bare["seconds"],
        ),
        common.measurement("model_memory.pickled_size", model_mb, "MB", TARGET_MB, baseline=npz_mb),
        common.measurement("model_memory.fit_time", fitted["seconds"], "s", None),
    ]
    return common.report("model_memory", args, figures)


def catalogue_path(args) -> Path:
    from bench.catalogue import cache_path

    return cache_path(args.listings, args.members, args.seed)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS  # internal: how the benchmark runs itself in a fresh process


if __name__ == "__main__":
    main()
