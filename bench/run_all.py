"""Every benchmark, each in its own process, then docs/benchmarks/results.json and a bar chart.

python -m bench.run_all                                  # 100k listings, 100k members
python -m bench.run_all --listings 5000 --members 5000 --out var/bench/quick
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common

BENCHMARKS = ("top5_one_member", "rematch_all", "new_listing_fanout", "model_memory")


def run_one(name: str, args) -> dict | None:
    """One benchmark in a fresh process, so one's memory and caches do not colour the next."""
    output = common.RESULTS_DIR / f"{name}-L{args.listings}-M{args.members}.json"
    output.unlink(missing_ok=True)
    command = [sys.executable, "-m", f"bench.{name}", *size_options(args), "--json", str(output)]
    print(f"\n### {name}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=common.REPO_ROOT, check=False)
    print(f"### {name}: {time.perf_counter() - started:.0f} s, exit status {done.returncode}")
    return json.loads(output.read_text()) if output.exists() else None


def size_options(args) -> list[str]:
    return [
        "--listings",
        str(args.listings),
        "--members",
        str(args.members),
        "--seed",
        str(args.seed),
    ]


def chart(results: list[dict], path: Path) -> None:
    """One panel per figure: the measured value, its baseline and its target, side by side."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    figures = [m for r in results for m in r["measurements"] if m["target"] is not None]
    columns = 3
    rows = (len(figures) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    for axis, figure in zip(axes.ravel(), figures, strict=False):
        bar_panel(axis, figure)
    for axis in axes.ravel()[len(figures) :]:
        axis.set_visible(False)
    fig.suptitle(
        f"kindred matcher benchmarks ({results[0]['listings']:,} listings, "
        f"{results[0]['members']:,} members)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bar_panel(axis, figure: dict) -> None:
    labels, values, colours = (
        ["matcher"],
        [figure["value"]],
        ["tab:green" if figure["meets_target"] else "tab:red"],
    )
    if figure["baseline"] is not None:
        labels.append("baseline")
        values.append(figure["baseline"])
        colours.append("tab:gray")
    axis.bar(labels, values, color=colours)
    axis.axhline(
        figure["target"], color="black", linestyle="--", label=f"target {figure['target']}"
    )
    title = figure["name"].split(".", 1)[-1].replace("_", " ")
    ratio = f", {figure['ratio']}x baseline" if figure["ratio"] is not None else ""
    axis.set_title(f"{figure['name'].split('.')[0]}: {title}{ratio}", fontsize=9)
    axis.set_ylabel(figure["unit"])
    axis.legend(fontsize=8)


def main() -> None:
    parse = common.parser(__doc__.splitlines()[0])
    parse.add_argument(
        "--out",
        type=Path,
        default=common.REPO_ROOT / "docs" / "benchmarks",
        help="folder for results.json and results.png",
    )
    parse.add_argument("--only", nargs="*", choices=BENCHMARKS, help="run just these")
    args = parse.parse_args()
    if not common.shared_data_dir().is_dir():
        common.exit_without_data(common.shared_data_dir())
    common.catalogue(args)  # built once here, then every benchmark loads the cache
    names = args.only or BENCHMARKS
    fresh = [r for name in names if (r := run_one(name, args))]
    if fresh:
        results = merged(args.out / "results.json", fresh, args)
        (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
        chart(results, args.out / "results.png")
        summarise(results, args.out)
    if len(fresh) < len(names):
        print(f"{len(names) - len(fresh)} benchmark(s) failed; see their output above")
        sys.exit(1)


def merged(path: Path, fresh: list[dict], args) -> list[dict]:
    """With --only, earlier results of the other benchmarks (same sizes) are kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    same_size = {"listings": args.listings, "members": args.members, "seed": args.seed}
    earlier = json.loads(path.read_text()) if path.exists() else []
    by_name = {
        r["benchmark"]: r
        for r in earlier
        if all(r.get(key) == value for key, value in same_size.items())
    }
    by_name.update({r["benchmark"]: r for r in fresh})
    return [by_name[name] for name in BENCHMARKS if name in by_name]


def summarise(results: list[dict], out: Path) -> None:
    print(f"\n== summary (written to {out / 'results.json'} and {out / 'results.png'})")
    for m in (m for r in results for m in r["measurements"]):
        target = "" if m["target"] is None else f" / target {m['target']}"
        ratio = "" if m["ratio"] is None else f", {m['ratio']}x baseline"
        print(f"{m['name']}: {m['value']:,.2f} {m['unit']}{target}{ratio}")


if __name__ == "__main__":
    main()
