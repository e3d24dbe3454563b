"""Fan-out of one new listing: `score_new_listing(listing, member_index)` over every member.

Target: median <= 50 ms over ~50 new listings against 100k members. Baseline: the bare sparse
dot products of the listing's TF-IDF vector with the members' (content only), with the members
stored term by term; the row-major form (member matrix @ listing vector) is printed beside it.

    python -m bench.new_listing_fanout [--listings 5000 --members 5000]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import baseline, common
from service.matching import features as f

TARGET_MS = 50.0


def new_listings(listings: list[dict], count: int, seed: int) -> list[dict]:
    """Catalogue listings posted again under unseen ids: real text, not in the fitted counts."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(listings), size=min(count, len(listings)), replace=False)
    top = max(x["id"] for x in listings)
    return [{**listings[i], "id": top + n + 1, "status": "active"} for n, i in enumerate(picks)]


def time_each(label: str, call, items, repeats: int) -> list[float]:
    call(items[0])  # warm-up
    seconds = []
    for _ in tqdm(range(repeats), desc=label, unit="pass"):
        seconds += [common.timed(call, item)[0] for item in items]
    return seconds


def listing_vector_pairs(matcher, listings: list[dict]) -> list[tuple]:
    return [
        (
            matcher.interest_vectorizer_.transform([f.listing_interest_text(x)]).astype(np.float32),
            matcher.cause_vectorizer_.transform([f.listing_cause_text(x)]).astype(np.float32),
        )
        for x in listings
    ]


def main() -> dict:
    parse = common.parser(__doc__.splitlines()[0])
    parse.add_argument("--sample", type=int, default=50, help="new listings to time")
    parse.add_argument("--repeats", type=int, default=3, help="passes over the sample")
    args = parse.parse_args()
    data = common.catalogue(args)
    matcher, _, _ = common.fitted_matcher(args, data)
    print(f"indexing {len(data.profiles):,} members ...", flush=True)
    index_s, index = common.timed(matcher.index_members, data.profiles)
    fresh = new_listings(data.listings, args.sample, args.seed)

    score = matcher.score_new_listing
    matcher_s = time_each("score_new_listing", lambda x: score(x, index), fresh, args.repeats)
    members = baseline.member_vectors(matcher, data.profiles)
    by_term = baseline.transposed(members)
    pairs = listing_vector_pairs(matcher, fresh)
    row_major_s = time_each(
        "row-major baseline",
        lambda pair: baseline.new_listing_row_major(members, *pair),
        pairs,
        args.repeats,
    )
    term_major_s = time_each(
        "term-major baseline",
        lambda pair: baseline.new_listing_term_major(by_term, *pair),
        pairs,
        args.repeats,
    )
    measured = common.median_ms(matcher_s)
    figure = common.measurement(
        "new_listing_fanout.median_latency",
        measured,
        "ms",
        TARGET_MS,
        baseline=common.median_ms(term_major_s),
        p90_ms=round(common.percentile_ms(matcher_s, 0.9), 3),
        baseline_kind="listing vector @ term-major member matrix",
        row_major_baseline_ms=round(common.median_ms(row_major_s), 3),
        ratio_to_row_major=round(measured / common.median_ms(row_major_s), 2),
        index_members_s=round(index_s, 2),
        calls=len(matcher_s),
    )
    return common.report("new_listing_fanout", args, [figure])


if __name__ == "__main__":
    main()
