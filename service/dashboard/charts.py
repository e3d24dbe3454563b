"""Charts drawn on the server as SVG: no script, no CDN, readable by screen readers.

A chart here is only geometry (points, ticks, cells); the templates (`charts.html`) draw it, give
it a title and description, and put the same numbers in a table beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 28, 16, 36


@dataclass(frozen=True)
class Series:
    name: str
    values: list[int | float | None]
    points: str  # "x,y x,y ..." for <polyline>, every point drawn
    dots: list[tuple[float, float, int | float]]
    # One <polyline> per run of values without a gap: a withheld month breaks the line rather
    # than being drawn as if it were known.
    segments: list[str] = field(default_factory=list)
    dot_labels: list[str] = field(default_factory=list)  # the label of each dot


@dataclass(frozen=True)
class LineChart:
    title: str
    labels: list[str]
    label_x: list[float]
    series: list[Series]
    ticks: list[tuple[float, int | float]]  # (y, value)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = MARGIN_LEFT
    right: int = WIDTH - MARGIN_RIGHT
    top: int = MARGIN_TOP
    bottom: int = HEIGHT - MARGIN_BOTTOM
    unit: str = ""  # after each value: "%"
    period: str = "Week of"  # the heading of the labels' column, and before a label
    missing: str = "none"  # what a None value says in the table


def tick_step(largest: float, ticks: int = 4) -> int:
    """A whole step of 1, 2 or 5 times a power of ten, so that `ticks` steps reach `largest`."""
    wanted = max(largest / ticks, 1)
    power = 10 ** math.floor(math.log10(wanted))
    return next(int(m * power) for m in (1, 2, 5, 10) if m * power >= wanted)


def line_chart(
    title: str,
    labels: list[str],
    series: dict[str, list[int | float | None]],
    *,
    axis: tuple[int, int, int] | None = None,
    unit: str = "",
    period: str = "Week of",
    missing: str = "none",
) -> LineChart:
    """`None` values are gaps (withheld or unknown): no dot, and the line breaks there.
    `axis` (lowest, highest, step) fixes the value axis for a scale with known ends (0 to 100
    for a percentage, a score of 3 to 9); else it starts at 0 and reaches past the largest
    value in four whole steps."""
    if axis is None:
        known = [value for values in series.values() for value in values if value is not None]
        step = tick_step(max(known, default=0))
        bottom_value, top_value = 0, 4 * step
    else:
        bottom_value, top_value, step = axis
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    steps = max(len(labels) - 1, 1)

    def x(index: int) -> float:
        return round(MARGIN_LEFT + plot_width * index / steps, 1)

    def y(value: float) -> float:
        within = min(max(value, bottom_value), top_value)
        share = (within - bottom_value) / (top_value - bottom_value)
        return round(MARGIN_TOP + plot_height * (1 - share), 1)

    drawn = []
    for name, values in series.items():
        dots, dot_labels, segments, run = [], [], [], []
        for i, value in enumerate(values):
            if value is None:
                if run:
                    segments.append(" ".join(run))
                run = []
                continue
            dots.append((x(i), y(value), value))
            dot_labels.append(labels[i])
            run.append(f"{x(i)},{y(value)}")
        if run:
            segments.append(" ".join(run))
        points = " ".join(f"{px},{py}" for px, py, _ in dots)
        drawn.append(Series(name, values, points, dots, segments, dot_labels))
    ticks = [(y(value), value) for value in range(bottom_value, top_value + 1, step)]
    return LineChart(
        title,
        labels,
        [x(i) for i in range(len(labels))],
        drawn,
        ticks,
        unit=unit,
        period=period,
        missing=missing,
    )


@dataclass(frozen=True)
class GridCell:
    x: int
    y: int
    members: int
    listings: int
    shade: int  # 0-4: how many members ask here, for each listing offered


@dataclass(frozen=True)
class GridMap:
    cells: list[GridCell]
    width: int
    height: int
    size: int


MAP_WIDTH = 600


def grid_map(cells: list[dict], size: int | None = None) -> GridMap | None:
    """Cells laid out by their row (north at the top) and column (west at the left), each as
    large as fits the map's width (between 16 and 60 px)."""
    if not cells:
        return None
    rows = [cell["row"] for cell in cells]
    cols = [cell["col"] for cell in cells]
    north, west = max(rows), min(cols)
    if size is None:
        span = max(max(cols) - west, north - min(rows)) + 1
        size = min(60, max(16, MAP_WIDTH // span))
    drawn = [
        GridCell(
            x=(cell["col"] - west) * size,
            y=(north - cell["row"]) * size,
            members=cell["members"],
            listings=cell["listings"],
            shade=_shade(cell["members"], cell["listings"]),
        )
        for cell in cells
    ]
    width = (max(cols) - west + 1) * size
    height = (north - min(rows) + 1) * size
    return GridMap(drawn, width, height, size)


def _shade(members: int, listings: int) -> int:
    """0: nobody asking; 1: well served ... 4: many asking and nothing offered."""
    if members == 0:
        return 0
    per_listing = members / max(listings, 0.5)
    for shade, limit in ((1, 5), (2, 15), (3, 40)):
        if per_listing <= limit:
            return shade
    return 4
