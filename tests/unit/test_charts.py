"""The dashboard's SVG chart geometry: whole-number ticks that cover the data, points inside the
plot, and map cells placed north-up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.dashboard.charts import grid_map, line_chart, tick_step


@given(st.integers(min_value=0, max_value=10**7))
def test_four_whole_steps_always_reach_the_largest_value(largest):
    step = tick_step(largest)
    assert step >= 1 and 4 * step >= largest
    assert str(step).strip("0") in ("1", "2", "5")  # 1, 2 or 5 times a power of ten
    assert 4 * step < max(largest, 1) * 10  # and not absurdly far above it


def test_points_sit_inside_the_plot_and_the_largest_value_highest():
    chart = line_chart("t", ["w1", "w2", "w3"], {"made": [3, 40, 0], "yes": [1, 2, 0]})
    assert [value for _, value in chart.ticks] == [0, 10, 20, 30, 40]
    for series in chart.series:
        for x, y, _ in series.dots:
            assert chart.left <= x <= chart.right and chart.top <= y <= chart.bottom
    made = chart.series[0].dots
    assert made[1][1] == chart.top and made[2][1] == chart.bottom  # 40 at the top, 0 at the axis
    assert chart.series[0].points.count(",") == 3


def test_map_cells_are_laid_out_north_up_and_shaded_by_members_per_listing():
    cells = [
        {"row": 10, "col": 5, "members": 50, "listings": 0},
        {"row": 9, "col": 6, "members": 4, "listings": 2},
    ]
    grid = grid_map(cells, size=20)
    north, south = grid.cells
    assert (north.x, north.y) == (0, 0) and (south.x, south.y) == (20, 20)
    assert north.shade == 4 and south.shade == 1
    assert (grid.width, grid.height) == (40, 40)
    assert grid_map([]) is None


def test_a_withheld_value_is_a_gap_not_a_zero():
    chart = line_chart(
        "t",
        ["m1", "m2", "m3", "m4"],
        {"rate": [50.0, None, 75.0, 80.0]},
        unit="%",
        axis=(0, 100, 25),
    )
    (series,) = chart.series
    assert [value for _, value in chart.ticks] == [0, 25, 50, 75, 100]
    assert [value for _, _, value in series.dots] == [50.0, 75.0, 80.0]
    assert series.dot_labels == ["m1", "m3", "m4"]
    assert len(series.segments) == 2 and series.segments[0].count(",") == 1
    everything_withheld = line_chart("t", ["m1", "m2"], {"rate": [None, None]})
    assert everything_withheld.series[0].dots == [] and everything_withheld.series[0].segments == []


def test_a_fixed_axis_starts_at_its_lowest_value():
    """A score of 3 to 9: 3 sits on the bottom line and 9 on the top one, a tick each step."""
    chart = line_chart("t", ["m1", "m2", "m3"], {"score": [3, 6, 9]}, axis=(3, 9, 1))
    (made,) = chart.series
    assert [dot[1] for dot in made.dots] == [
        chart.bottom,
        (chart.top + chart.bottom) / 2,
        chart.top,
    ]
    assert [value for _, value in chart.ticks] == [3, 4, 5, 6, 7, 8, 9]
