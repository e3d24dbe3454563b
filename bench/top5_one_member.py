"""Top-5 for one member over the whole catalogue: `GroupMatcher.recommend(profile, k=5)`.

Target: median <= 10 ms over 100k listings, and within 3x of a bare numpy/scipy brute force
(sparse TF-IDF product of the member's vector with the listing matrix + argpartition top 5).
The ratio is to the faster of two bare forms, the term-major one (member vector @ listings stored
term by term, so only the member's own terms are read); the other form (listing matrix @ member
vector, a pass over every stored entry) is printed beside it, as it flatters the matcher.

    python -m bench.top5_one_member [--listings 5000 --members 5000]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import baseline, common

TARGET_MS = 10.0
TARGET_RATIO = 3.0


def time_calls(label: str, call, items, repeats: int) -> list[float]:
    """Seconds per call, every item `repeats` times; the first few calls warm caches untimed."""
    for item in items[:5]:
        call(item)
    seconds = []
    for _ in tqdm(range(repeats), desc=label, unit="pass"):
        for item in items:
            elapsed, _ = common.timed(call, item)
            seconds.append(elapsed)
    return seconds


def main() -> dict:
    parse = common.parser(__doc__.splitlines()[0])
    parse.add_argument("--sample", type=int, default=200, help="members to time")
    parse.add_argument("--repeats", type=int, default=3, help="passes over the sample")
    args = parse.parse_args()
    data = common.catalogue(args)
    matcher, _, _ = common.fitted_matcher(args, data)
    rng = np.random.default_rng(args.seed)
    picks = rng.choice(len(data.profiles), size=min(args.sample, len(data.profiles)), replace=False)
    profiles = [data.profiles[i] for i in picks]

    matcher_s = time_calls("recommend", lambda p: matcher.recommend(p, k=5), profiles, args.repeats)
    listings = baseline.listing_vectors(matcher)
    by_term = baseline.transposed(listings)
    members = baseline.member_vectors(matcher, profiles)  # vectorised once: same vectors, no text
    rows = list(range(len(profiles)))
    plain_s = time_calls(
        "row-major baseline",
        lambda r: baseline.one_member_row_major(listings, members, r),
        rows,
        args.repeats,
    )
    inverted_s = time_calls(
        "term-major baseline",
        lambda r: baseline.one_member_term_major(by_term, members, r),
        rows,
        args.repeats,
    )
    measured, plain_ms = common.median_ms(matcher_s), common.median_ms(plain_s)
    figure = common.measurement(
        "top5_one_member.median_latency",
        measured,
        "ms",
        TARGET_MS,
        baseline=common.median_ms(inverted_s),
        ratio_target=TARGET_RATIO,
        p90_ms=round(common.percentile_ms(matcher_s, 0.9), 3),
        baseline_kind="member vector @ term-major listing matrix + argpartition",
        row_major_baseline_ms=round(plain_ms, 3),
        ratio_to_row_major=round(measured / plain_ms, 2),
        calls=len(matcher_s),
    )
    return common.report("top5_one_member", args, [figure])


if __name__ == "__main__":
    main()
