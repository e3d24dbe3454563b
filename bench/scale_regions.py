"""Scaling out by region: 1,000,000 members and 100,000 listings as region shards, each fitted
on its own, against the same data fitted as one model.

Each region is a catalogue built the way `bench/catalogue.py` builds one (its own seed), moved
9 degrees of latitude south of the one before so regions never overlap, with ids offset so they
are unique across regions. For each shard, in a fresh process (so one shard's memory does not
colour the next): the fit time and resident growth of the group and peer matchers, the peak
growth of the process, the latency of one member's match request (group top-5 + peer top-3,
p50/p99 over a sample), and the fan-out of one new listing to the shard's members
(`score_new_listing` over the shard's `MemberIndex`, as the `ListingPublished` handler does).

Baseline, in the same run: every region concatenated and fitted as one model (what a single
worker pool does today), measured the same way in its own process; `--baseline none` skips it.
Because the regions are apart, a member reaches the same listings in both: the ratio is what
the size of the model costs, not a change of what is offered.

    python -m bench.scale_regions                                      # 10 x (100k, 10k)
    python -m bench.scale_regions --members 20000 --listings 2000 --regions 2   # quick
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

import numpy as np
from tqdm import tqdm

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common

MB = 1024 * 1024
LATITUDE_STEP = 9.0  # degrees between regions: about 1,000 km, beyond any travel radius
DEFAULT_JSON = common.RESULTS_DIR / "scale_regions.json"
DEFAULT_CHART = common.REPO_ROOT / "docs" / "benchmarks" / "scale_regions.png"


# ---------------------------------------------------------------- the data of one region


def shard_sizes(args) -> tuple[int, int]:
    return args.listings // args.regions, args.members // args.regions


def region_catalogue(args, region: int):
    """Region `region`'s catalogue: built (or loaded from var/bench) with its own seed, moved
    south by `region` steps, ids offset so no two regions share one."""
    from bench.catalogue import load_or_build

    listings, members = shard_sizes(args)
    data = load_or_build(common.shared_data_dir(), listings, members, args.seed + region)
    shift = -LATITUDE_STEP * region
    listing_offset, member_offset = region * listings, region * members
    for x in data.listings:
        x["id"] += listing_offset
        if x["lat"] is not None:
            x["lat"] = round(x["lat"] + shift, 6)
    for p in data.profiles:
        p["id"] += member_offset
        p["lat"] = round(p["lat"] + shift, 6)
    for e in data.interactions:
        e["member_id"] += member_offset
        e["listing_id"] += listing_offset
    return data


def combined_catalogue(args):
    """Every region as one catalogue: the baseline's data."""
    listings, profiles, interactions = [], [], []
    for region in range(args.regions):
        data = region_catalogue(args, region)
        listings += data.listings
        profiles += data.profiles
        interactions += data.interactions
        del data
    return listings, profiles, interactions


# ---------------------------------------------------------------- inside a fresh process


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MB


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def fitted(work) -> tuple[object, float, float]:
    """(result, seconds, resident growth in MB while keeping the result)."""
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    gc.collect()
    return result, seconds, rss_mb() - before


def child(args, which: str) -> dict:
    # Imported before measuring: the libraries are not the model.
    from service.matching import GroupMatcher, PeerMatcher

    if which == "whole":
        listings, profiles, interactions = combined_catalogue(args)
    else:
        data = region_catalogue(args, int(which))
        listings, profiles, interactions = data.listings, data.profiles, data.interactions
    listings = [x for x in listings if x["status"] == "active"]  # what MatcherCache fits on
    gc.collect()
    start_rss = rss_mb()
    peak_before = peak_mb()  # loading the catalogue may have peaked; growth is counted past it
    group, group_s, group_mb = fitted(lambda: GroupMatcher().fit(listings, interactions, profiles))
    peer, peer_s, peer_mb = fitted(lambda: PeerMatcher().fit(profiles, interactions))
    index, index_s, index_mb = fitted(lambda: group.index_members(profiles))
    peak_growth = max(peak_mb(), peak_before) - start_rss
    rng = np.random.default_rng(args.seed)
    sample = [
        profiles[i] for i in rng.choice(len(profiles), min(args.sample, len(profiles)), False)
    ]
    group.recommend(sample[0], k=5), peer.recommend(sample[0], k=3)  # warm-up
    request_s, group_only_s = [], []
    for profile in tqdm(sample, desc=f"recommend ({which})", unit="member", mininterval=1):
        started = time.perf_counter()
        group.recommend(profile, k=5)
        middle = time.perf_counter()
        peer.recommend(profile, k=3)
        request_s.append(time.perf_counter() - started)
        group_only_s.append(middle - started)
    top = max(x["id"] for x in listings)
    picks = rng.choice(len(listings), min(args.fanout_sample, len(listings)), False)
    fresh = [{**listings[i], "id": top + n + 1} for n, i in enumerate(picks)]
    group.score_new_listing(fresh[0], index)  # warm-up
    fanout_s = [common.timed(group.score_new_listing, x, index)[0] for x in fresh]
    return {
        "region": which,
        "listings": len(listings),
        "members": len(profiles),
        "interactions": len(interactions),
        "fit_group_s": group_s,
        "fit_peer_s": peer_s,
        "fit_s": group_s + peer_s,
        "index_members_s": index_s,
        "group_mb": group_mb,
        "peer_mb": peer_mb,
        "index_mb": index_mb,
        "resident_mb": group_mb + peer_mb + index_mb,
        "peak_growth_mb": peak_growth,
        "recommend_p50_ms": common.percentile_ms(request_s, 0.5),
        "recommend_p99_ms": common.percentile_ms(request_s, 0.99),
        "group_recommend_p50_ms": common.percentile_ms(group_only_s, 0.5),
        "fanout_ms": common.median_ms(fanout_s),
        "fanout_max_ms": 1000 * max(fanout_s),
    }


# ---------------------------------------------------------------- the benchmark


def in_fresh_process(args, which: str) -> dict:
    command = [
        sys.executable,
        "-m",
        "bench.scale_regions",
        *("--listings", str(args.listings), "--members", str(args.members)),
        *("--regions", str(args.regions), "--seed", str(args.seed)),
        *("--sample", str(args.sample), "--fanout-sample", str(args.fanout_sample)),
        "--child",
        which,
    ]
    done = subprocess.run(
        command, cwd=common.REPO_ROOT, stdout=subprocess.PIPE, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


FIGURES = (  # key, unit, how a shard's figures are summed up for the comparison
    ("fit_s", "s", "median"),
    ("fit_group_s", "s", "median"),
    ("fit_peer_s", "s", "median"),
    ("resident_mb", "MB", "median"),
    ("peak_growth_mb", "MB", "median"),
    ("recommend_p50_ms", "ms", "median"),
    ("recommend_p99_ms", "ms", "median"),
    ("fanout_ms", "ms", "median"),
)


def measurements(shards: list[dict], whole: dict | None) -> list[dict]:
    figures = []
    for key, unit, _ in FIGURES:
        values = [s[key] for s in shards]
        figures.append(
            common.measurement(
                f"scale_regions.{key}",
                statistics.median(values),
                unit,
                None,
                baseline=whole[key] if whole else None,
                shard_min=round(min(values), 2),
                shard_max=round(max(values), 2),
            )
        )
    total_fit = sum(s["fit_s"] for s in shards)
    figures.append(
        common.measurement(
            "scale_regions.fit_all_shards_s",
            total_fit,
            "s",
            None,
            baseline=whole["fit_s"] if whole else None,
        )
    )
    return figures


def chart(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    shards, whole = result["shards"], result.get("whole")
    panels = (
        ("fit (group + peer)", "fit_s", "s"),
        ("resident model + member index", "resident_mb", "MB"),
        ("one match request, p50 / p99", ("recommend_p50_ms", "recommend_p99_ms"), "ms"),
        ("fan-out of one new listing", "fanout_ms", "ms"),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 3.8))
    names = [str(s["region"]) for s in shards]
    for axis, (title, key, unit) in zip(axes, panels, strict=True):
        keys = key if isinstance(key, tuple) else (key,)
        width = 0.8 / len(keys)
        for n, k in enumerate(keys):
            positions = np.arange(len(shards)) + n * width
            axis.bar(positions, [s[k] for s in shards], width=width, label=k.split("_")[-2])
            if whole:
                style = "--" if n == 0 else ":"
                axis.axhline(whole[k], color="black", linestyle=style, label=f"one model ({k})")
        axis.set_xticks(np.arange(len(shards)) + width * (len(keys) - 1) / 2, names)
        axis.set_xlabel("region shard")
        axis.set_ylabel(unit)
        axis.set_ylim(bottom=0)
        axis.set_title(title, fontsize=9)
        axis.legend(fontsize=7)
    size = f"{result['members']:,} members, {result['listings']:,} listings"
    fig.suptitle(f"kindred by region: {result['regions']} shards of {size}, vs one model")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> dict:
    parse = common.parser(__doc__.splitlines()[0])
    parse.set_defaults(members=1_000_000, listings=100_000, json=DEFAULT_JSON)
    parse.add_argument("--regions", type=int, default=10, help="shards the catalogue is cut in")
    parse.add_argument("--sample", type=int, default=200, help="members timed per shard")
    parse.add_argument("--fanout-sample", type=int, default=20, help="new listings timed")
    parse.add_argument(
        "--baseline", choices=("whole", "none"), default="whole", help="fit all as one model"
    )
    parse.add_argument("--chart", type=Path, default=DEFAULT_CHART, help="PNG to write")
    parse.add_argument("--redraw", action="store_true", help="only redraw the chart from --json")
    parse.add_argument("--child", help=argparse_hidden())
    args = parse.parse_args()
    if args.redraw:
        chart(json.loads(args.json.read_text()), args.chart)
        return {}
    if not common.shared_data_dir().is_dir():
        common.exit_without_data(common.shared_data_dir())
    if args.child is not None:
        print(json.dumps(child(args, args.child)))
        return {}
    started = time.perf_counter()
    for region in tqdm(range(args.regions), desc="catalogues", unit="region"):
        region_catalogue(args, region)  # built once here (cached), so shards time no building
    shards = []
    for region in tqdm(range(args.regions), desc="shards", unit="shard"):
        shards.append(in_fresh_process(args, str(region)))
        print(summary_line(shards[-1]), flush=True)
    whole = None
    if args.baseline == "whole":
        print("baseline: every region as one model, in a fresh process ...", flush=True)
        whole = in_fresh_process(args, "whole")
        print(summary_line(whole), flush=True)
    wall = time.perf_counter() - started
    listings, members = shard_sizes(args)
    result = common.report(
        "scale_regions",
        args,
        measurements(shards, whole),
        regions=args.regions,
        shard_listings=listings,
        shard_members=members,
        shards=shards,
        whole=whole,
        wall_s=round(wall, 1),
        load_average=list(np.round(os.getloadavg(), 2)),
    )
    if args.json:  # report wrote it; keep the per-shard detail too
        args.json.write_text(json.dumps(result, indent=2, default=str))
    chart(result, args.chart)
    print(f"wall time {wall:.0f} s; chart {args.chart}; JSON {args.json}")
    return result


def summary_line(s: dict) -> str:
    return (
        f"  {s['region']}: {s['members']:,} members, {s['listings']:,} listings: fit "
        f"{s['fit_group_s']:.1f} + {s['fit_peer_s']:.1f} s, resident {s['resident_mb']:.0f} MB "
        f"(peak +{s['peak_growth_mb']:.0f} MB), request p50 {s['recommend_p50_ms']:.1f} ms "
        f"p99 {s['recommend_p99_ms']:.1f} ms, fan-out {s['fanout_ms']:.1f} ms"
    )


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS  # internal: how the benchmark runs itself in a fresh process


if __name__ == "__main__":
    main()
