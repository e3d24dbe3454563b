"""Workers sharing one fitted model against each fitting its own, after a change to the data.

Target (issue 7): "the matcher's model is shared by workers without each one refitting". The
database holds the demo catalogue and --members members (SQLite in a temporary folder, or the
empty database named by --database-url). --workers separate processes play the workers: each
holds the model of the data as it was, then the data changes (one member edits a profile, as
any answer, edit or new listing does) and every worker keeps asking for the model, as jobs
arriving would, until it holds the new one.

Measured for each way, in the same run: the CPU seconds all workers spent fitting or loading
between the change and holding the new model (and their whole CPU time, which adds the
fingerprint check every job makes), the time until the last of them held it, and the memory
each holds afterwards. The baseline is kindred
without a model store (every worker fits its own, as before issue 7); the figure is with it (one
fits and saves, the others answer from their old model meanwhile, then load the file).

    python -m bench.shared_model [--members 20000] [--workers 4]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common
from bench.listing_fanout_db import add_members

DEFAULT_CHART = common.REPO_ROOT / "docs" / "benchmarks" / "shared_model.png"
ASK_EVERY_SECONDS = 0.05  # how often a worker asks for its model: jobs arriving back to back


def _cpu_counted(method):
    """`method`, adding the process's CPU time it takes to its object's `spent_s`."""

    def counted(self, *arguments):
        started = time.process_time()
        try:
            return method(self, *arguments)
        finally:
            self.spent_s += time.process_time() - started

    return counted


def wired(folder: Path, database_url: str, shared: bool):
    from service.adapters.matcher_source import MatcherCache
    from service.adapters.model_store import ModelStore
    from service.bootstrap import bootstrap
    from service.config import Settings

    settings = Settings(
        database_url=database_url, redis_url="embedded", secret_key="b", var_dir=folder
    )

    class TimedCache(MatcherCache):
        """Counts the CPU spent fitting or loading, apart from the fingerprint checks every
        job makes (those cost the same either way, ~30 ms at 100,000 members on SQLite)."""

        spent_s = 0.0
        _fit = _cpu_counted(MatcherCache._fit)
        _load = _cpu_counted(MatcherCache._load)

    kindred = bootstrap(settings)
    store = ModelStore(folder / "models", kindred.redis) if shared else None
    kindred._matchers = TimedCache(store)
    return kindred


def worker(folder, database_url, shared, ready, go, target, results) -> None:
    """One worker: hold the model of the data as it is, then ask until it holds `target`'s."""
    import psutil

    kindred = wired(Path(folder), database_url, shared)
    with kindred.uow() as uow:
        kindred.matchers.get(uow.session)  # the model before the change
    fits, loads = kindred.matchers.fits, kindred.matchers.loads  # getting the first model
    spent_s = kindred.matchers.spent_s
    ready.wait()
    go.wait()  # the data changed
    cpu_before, started = time.process_time(), time.perf_counter()
    while True:
        with kindred.uow() as uow:
            model = kindred.matchers.get(uow.session)
        if model.fingerprint == target.value:
            break
        time.sleep(ASK_EVERY_SECONDS)
    results.put(
        {
            "fit_or_load_cpu_s": kindred.matchers.spent_s - spent_s,
            "cpu_s": time.process_time() - cpu_before,
            "until_new_model_s": time.perf_counter() - started,
            "fits": kindred.matchers.fits - fits,
            "loads": kindred.matchers.loads - loads,
            # Resident now, holding the new model. (Not ru_maxrss: Linux keeps it across the
            # exec that starts a spawned process, so it would report the parent's peak.)
            "rss_mb": psutil.Process().memory_info().rss / 1e6,
        }
    )
    kindred.close()


def change_the_data(kindred) -> tuple:
    """A member widens their travel radius; returns the new fingerprint."""
    import sqlalchemy as sa

    from service.adapters.matcher_source import Scope
    from service.adapters.orm import Member

    with kindred.uow() as uow:
        member = uow.session.scalars(sa.select(Member).order_by(Member.id)).first()
        member.travel_radius_km += 1
        uow.commit()
    with kindred.uow() as uow:
        # The fingerprint alone (three aggregate queries), not a fit: the parent only sets the
        # target the workers wait for.
        return kindred.matchers._fingerprint(uow.session, Scope())


def run_way(folder: Path, database_url: str, workers: int, shared: bool, progress) -> list[dict]:
    context = multiprocessing.get_context("spawn")
    ready, go = context.Barrier(workers + 1), context.Barrier(workers + 1)
    target, results = context.Manager().Value("O", None), context.Queue()
    processes = [
        context.Process(
            target=worker,
            args=(str(folder), database_url, shared, ready, go, target, results),
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    ready.wait()  # every worker holds the old model
    target.value = change_the_data(wired(folder, database_url, shared=False))
    go.wait()
    outcomes = []
    for _ in processes:
        outcomes.append(results.get(timeout=1800))
        progress.update(1)
    for process in processes:
        process.join()
    return outcomes


def summary(outcomes: list[dict]) -> dict:
    return {
        "fit_or_load_cpu_s_all_workers": round(sum(o["fit_or_load_cpu_s"] for o in outcomes), 2),
        "cpu_s_all_workers": round(sum(o["cpu_s"] for o in outcomes), 2),
        "until_all_hold_new_model_s": round(max(o["until_new_model_s"] for o in outcomes), 2),
        "fits": sum(o["fits"] for o in outcomes),
        "loads": sum(o["loads"] for o in outcomes),
        "rss_mb": round(max(o["rss_mb"] for o in outcomes)),
        "per_worker": outcomes,
    }


def chart(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    ways = result["ways"]
    labels = ["each worker fits\n(baseline)", "one fits, the others load"]
    figure, (cpu, wait) = plt.subplots(1, 2, figsize=(9, 3.6))
    spent = [ways[w]["fit_or_load_cpu_s_all_workers"] for w in ("alone", "shared")]
    cpu.bar(labels, spent, color="#7a9")
    cpu.set_ylabel("CPU seconds fitting or loading,\nall workers")
    wait.bar(labels, [ways[w]["until_all_hold_new_model_s"] for w in ("alone", "shared")])
    wait.set_ylabel("seconds until every worker\nholds the new model")
    figure.suptitle(
        f"After one change: {result['workers']} workers, {result['members']:,} members "
        f"({result['cpu_count']} cores)"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> dict:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument("--members", type=int, default=20_000)
    parse.add_argument("--workers", type=int, default=4)
    parse.add_argument("--database-url", help="an empty database to fill instead of SQLite")
    parse.add_argument("--json", type=Path)
    parse.add_argument("--chart", type=Path, default=DEFAULT_CHART)
    args = parse.parse_args()
    from service.adapters.migrations import upgrade
    from service.demo.seed import seed_demo

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kindred-shared-model-") as name:
        folder = Path(name)
        database_url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        upgrade(database_url)
        kindred = wired(folder, database_url, shared=False)
        seed_demo(kindred, member_count=0)
        add_members(kindred, args.members)
        ways = {}
        with tqdm(total=2 * args.workers, desc="workers holding the new model") as progress:
            for way, shared in (("alone", False), ("shared", True)):
                ways[way] = summary(run_way(folder, database_url, args.workers, shared, progress))
        kindred.close()
    alone, shared = ways["alone"], ways["shared"]
    figures = [
        common.measurement(
            "shared_model.fit_or_load_cpu_s_all_workers",
            shared["fit_or_load_cpu_s_all_workers"],
            "s",
            None,
            baseline=alone["fit_or_load_cpu_s_all_workers"],
            fits=shared["fits"],
            loads=shared["loads"],
            baseline_fits=alone["fits"],
        ),
        common.measurement(
            "shared_model.cpu_s_all_workers",
            shared["cpu_s_all_workers"],
            "s",
            None,
            baseline=alone["cpu_s_all_workers"],
            note="with every job's fingerprint check while waiting",
        ),
        common.measurement(
            "shared_model.until_all_hold_new_model_s",
            shared["until_all_hold_new_model_s"],
            "s",
            None,
            baseline=alone["until_all_hold_new_model_s"],
        ),
        common.measurement(
            "shared_model.rss_mb", shared["rss_mb"], "MB", None, baseline=alone["rss_mb"]
        ),
    ]
    args.listings, args.seed = 0, None
    result = common.report(
        "shared_model",
        args,
        figures,
        workers=args.workers,
        ways=ways,
        wall_s=round(time.perf_counter() - started),
    )
    result["members"] = args.members
    chart(result, args.chart)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    print(f"chart {args.chart}")
    return result


if __name__ == "__main__":
    main()
