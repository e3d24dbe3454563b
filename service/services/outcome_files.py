"""`kindred report outcomes`: the outcome figures as outcomes.json, a chart (outcomes.png) and a
few lines of summary. Only what `outcomes.outcomes` returned is written: groups of ten or more."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from service.services.outcomes import START_SLOWLY, Outcomes


def write_files(report: Outcomes, out_dir: Path | str) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / "outcomes.json", out / "outcomes.png"
    json_path.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    plot(report, png_path)
    return json_path, png_path


def _gaps(values: list[float | None], scale: float = 1.0) -> list[float]:
    """matplotlib breaks a line at NaN: a withheld month is a gap, not a zero."""
    return [math.nan if value is None else value * scale for value in values]


def plot(report: Outcomes, path: Path) -> None:
    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    months = report.months
    figure, axes = plt.subplots(2, 2, figsize=(13, 8))
    rates, listings, scores, lonely = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]
    rates.plot(
        months,
        _gaps(report.series("second_visits", "rate"), 100),
        "o-",
        label="newcomers back within 6 weeks",
    )
    rates.plot(
        months,
        _gaps(report.series("introductions", "rate"), 100),
        "s--",
        label="introductions with a second contact",
    )
    rates.set(title="Going back (%)", ylim=(0, 100))
    for top in report.top_listings:
        listings.plot(
            months, _gaps(report.listing_series(top["listing_id"])), "o-", label=top["title"][:40]
        )
    listings.set(title="Sessions attended, busiest listings")
    listings.set_ylim(bottom=0)
    for cohort, style in ((START_SLOWLY, "o-"), ("others", "s--")):
        name = cohort.replace("_", " ")
        scores.plot(
            months, _gaps(report.series("checkins", "mean_score", cohort)), style, label=name
        )
        lonely.plot(
            months, _gaps(report.series("checkins", "share_lonely", cohort), 100), style, label=name
        )
    scores.set(title="Check-in: mean UCLA-3 score (3-9, lower is less lonely)", ylim=(3, 9))
    lonely.set(title="Check-in: share scoring 6 or more (%)", ylim=(0, 100))
    for axis in axes.flat:
        axis.tick_params(axis="x", labelrotation=45)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize="small")
    figure.suptitle(
        f"kindred outcomes: months with fewer than {report.min_group_size} in a group are gaps"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def summary(report: Outcomes) -> list[str]:
    """A line per figure: the latest month shown and how many months were withheld."""

    def latest(rows: list[dict], text) -> str:
        return text(rows[-1]) if rows else "no month with enough people yet"

    slow, others = report.checkins[START_SLOWLY], report.checkins["others"]
    return [
        f"months {report.months[0]} to {report.months[-1]}; groups under "
        f"{report.min_group_size} withheld",
        "second visits: "
        + latest(
            report.second_visits.rows,
            lambda r: f"{r['month']} {r['came_back']}/{r['newcomers']} ({r['rate']:.0%})",
        )
        + f"; {report.second_visits.withheld} month(s) withheld",
        "introductions with a second contact: "
        + latest(
            report.introductions.rows,
            lambda r: f"{r['month']} {r['second_contact']}/{r['introductions']} ({r['rate']:.0%})",
        )
        + f"; {report.introductions.withheld} month(s) withheld",
        f"attendance: {len(report.attendance.rows)} listing-month(s) shown, "
        f"{report.attendance.withheld} withheld",
        "check-in, start slowly: "
        + latest(slow.rows, lambda r: f"{r['month']} mean {r['mean_score']:.2f} of {r['members']}")
        + "; others: "
        + latest(
            others.rows, lambda r: f"{r['month']} mean {r['mean_score']:.2f} of {r['members']}"
        ),
    ]
