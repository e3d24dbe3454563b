"""The Outcomes page: the figures of groups of ten in charts and tables, groups of nine only as
"withheld", and only for coordinators."""

from __future__ import annotations

import re

import pytest

from tests.integration.outcome_world import (
    NINE_GROUP_FIGURES,
    WITHHELD_TITLE,
    build_outcome_world,
)
from tests.integration.pages.conftest import text_of

PAGE = "/dashboard/outcomes"


@pytest.fixture
def world(kindred):
    return build_outcome_world(kindred)


def rows_of(html: str, caption: str) -> list[list[str]]:
    """The cells of the table with this caption, tags stripped, one list per body row."""
    table = re.search(rf"<caption>{re.escape(caption)}</caption>(.*?)</table>", html, re.S)
    assert table, caption
    body = table.group(1).split("<tbody>")[1]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_groups_of_ten_are_shown_and_groups_of_nine_withheld(world, coordinator_page):
    response = coordinator_page.get(PAGE)
    assert response.status_code == 200
    html = text_of(response)
    withheld = "fewer than 10: withheld"
    second = rows_of(html, "Second visits by month")
    assert len(second) == 6
    month_a = next(row for row in second if row[1] == "10")
    assert month_a[1:] == ["10", "6", "60.0%"]
    assert sum(row == [row[0], withheld] for row in second) == 5
    introductions = rows_of(html, "Introductions by month")
    assert [row[1:] for row in introductions if row[1] != withheld] == [["10", "4", "40.0%"]]
    attendance = rows_of(html, "Listing-months with 10 or more people")
    assert [row[0::2] + row[3:] for row in attendance] == [["Riverside walk", "10", "16"]]
    assert "2 listing-months with fewer than 10 people withheld" in html
    checkins = rows_of(html, "Check-ins by month and cohort")
    shown = [row[1:] for row in checkins if withheld not in row]
    assert shown == [["others", "10", "5.00", "0.0%"], ["start slowly", "10", "6.20", "70.0%"]]
    assert len(checkins) == 12
    # Five charts, each SVG with its own numbers; the withheld months are gaps, said in words.
    assert html.count('<svg class="chart"') == 5
    assert "Newcomers who went back within six weeks" in html and "60.0%" in html
    assert WITHHELD_TITLE not in html
    assert [figure for figure in NINE_GROUP_FIGURES if figure in html] == []


def test_the_window_follows_months_within_1_to_24(world, coordinator_page):
    one = text_of(coordinator_page.get(PAGE, query_string={"months": 1}))
    assert len(rows_of(one, "Second visits by month")) == 1
    for asked, shown in (("40", 24), ("0", 6), ("many", 6), ("-2", 1)):
        html = text_of(coordinator_page.get(PAGE, query_string={"months": asked}))
        assert len(rows_of(html, "Second visits by month")) == shown, asked


def test_the_page_is_in_the_coordinator_nav(coordinator_page):
    html = text_of(coordinator_page.get("/dashboard"))
    assert f'<a href="{PAGE}">Outcomes</a>' in html
    here = text_of(coordinator_page.get(PAGE))
    assert f'<a href="{PAGE}" aria-current="page">Outcomes</a>' in here


def test_only_coordinators_see_the_page(visitor, partner_page):
    signed_out = visitor.get(PAGE)
    assert signed_out.status_code == 302 and "/dashboard/login" in signed_out.headers["Location"]
    assert partner_page.get(PAGE).status_code == 403


def test_an_empty_kindred_says_so(coordinator_page):
    html = text_of(coordinator_page.get(PAGE))
    assert "No listing had 10 or more people in a month yet." in html
    assert html.count("fewer than 10: withheld") >= 6 * 4
