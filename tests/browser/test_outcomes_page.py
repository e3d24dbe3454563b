"""The Outcomes page in a real browser: accessible (axe), charts named for screen readers, the
withheld months said in words; on a phone too."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, assert_no_console_errors, screenshot
from tests.integration.outcome_world import build_outcome_world


def test_a_coordinator_reads_the_outcome_figures(coordinator_page, kindred):
    build_outcome_world(kindred)
    page = coordinator_page
    page.get_by_role("link", name="Outcomes", exact=True).click()
    expect(page.get_by_role("heading", name="Outcomes", exact=True)).to_be_visible()
    expect(page.locator("svg.chart")).to_have_count(5)
    expect(
        page.get_by_role("img", name=re.compile("Newcomers who went back within six weeks"))
    ).to_be_visible()
    second_visits = page.get_by_role("table", name="Second visits by month")
    expect(second_visits.get_by_role("cell", name="60.0%")).to_be_visible()
    expect(second_visits.get_by_text("fewer than 10: withheld").first).to_be_visible()
    page.get_by_text("The numbers behind “Introductions followed by a second contact”").click()
    page.wait_for_load_state("load")
    assert_accessible(page)
    assert_no_console_errors(page)
    screenshot(page, "outcomes")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_accessible(page)
    screenshot(page, "outcomes-mobile")
