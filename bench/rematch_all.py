"""Re-matching everyone: top 5 for every member with `GroupMatcher.recommend_batch`.

Target: all 100k members in <= 60 s on 2 cores. Baseline: the same members' TF-IDF vectors
multiplied by the listing matrix in chunks, top 5 per row by argpartition, on as many threads.
If `recommend_batch` does not exist yet, the figure is reported as pending, with an estimate
from timing `recommend` one member at a time on a sample (clearly labelled as such).

    python -m bench.rematch_all [--listings 5000 --members 5000]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import baseline, common

TARGET_SECONDS = 60.0


def time_batch(matcher, profiles: list[dict], processes: int) -> float:
    bar = tqdm(total=len(profiles), desc=f"recommend_batch ({processes} processes)", unit="member")
    with bar:
        started = time.perf_counter()
        results = matcher.recommend_batch(profiles, k=5, n_jobs=processes, progress=bar.update)
        seconds = time.perf_counter() - started
    assert len(results) == len(profiles), "recommend_batch must answer every member"
    return seconds


def estimate_one_by_one(matcher, profiles: list[dict], sample: int, seed: int) -> float:
    """Seconds for everyone at the per-member median rate of `recommend`, on one core."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(profiles), size=min(sample, len(profiles)), replace=False)
    seconds = []
    for i in tqdm(picks, desc="recommend (estimate)", unit="member"):
        elapsed, _ = common.timed(matcher.recommend, profiles[i], 5)
        seconds.append(elapsed)
    return float(np.median(seconds)) * len(profiles)


def time_baseline(matcher, profiles: list[dict], threads: int) -> tuple[float, float]:
    """(seconds to vectorise everyone's text, seconds for the chunked brute force)."""
    vectorise_s, members = common.timed(baseline.member_vectors, matcher, profiles)
    by_term = baseline.transposed(baseline.listing_vectors(matcher))
    with tqdm(total=len(profiles), desc="brute force", unit="member") as progress:
        brute_s, _ = common.timed(
            lambda: baseline.all_members(by_term, members, threads=threads, progress=progress)
        )
    return vectorise_s, brute_s


def main() -> dict:
    parse = common.parser(__doc__.splitlines()[0])
    cores = os.cpu_count() or 2
    parse.add_argument("--threads", type=int, default=cores, help="baseline threads")
    parse.add_argument("--processes", type=int, default=cores, help="matcher processes")
    parse.add_argument("--sample", type=int, default=300, help="members timed for the estimate")
    args = parse.parse_args()
    data = common.catalogue(args)
    matcher, _, _ = common.fitted_matcher(args, data)
    profiles = data.profiles
    vectorise_s, brute_s = time_baseline(matcher, profiles, args.threads)
    baseline_s = vectorise_s + brute_s  # the matcher reads text too, so the baseline does
    details = {
        "baseline_vectorise_s": round(vectorise_s, 2),
        "baseline_products_s": round(brute_s, 2),
        "baseline_members_per_s": round(len(profiles) / baseline_s, 1),
        "baseline_threads": args.threads,
    }
    if hasattr(matcher, "recommend_batch"):
        seconds = time_batch(matcher, profiles, args.processes)
        details["status"] = "measured"
        details["processes"] = args.processes
    else:
        print("GroupMatcher.recommend_batch does not exist yet: PENDING; estimating instead")
        seconds = estimate_one_by_one(matcher, profiles, args.sample, args.seed)
        details["status"] = "pending: recommend_batch missing; estimate = median recommend x M"
    details["members_per_s"] = round(len(profiles) / seconds, 1)
    figure = common.measurement(
        "rematch_all.seconds", seconds, "s", TARGET_SECONDS, baseline=baseline_s, **details
    )
    return common.report("rematch_all", args, [figure])


if __name__ == "__main__":
    main()
