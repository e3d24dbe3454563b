"""The issue's flows in a real browser: a coordinator approves a listing, reads the overview chart
and retries a failed job; a partner posts a listing through the form; a member joins, asks for
matches, answers a suggestion and downloads their data; other roles are refused.

Every page visited is scanned with axe-core (no serious or critical violation), checked for
console errors and CSP violations, and saved as a screenshot in var/test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from playwright.sync_api import expect

from service.adapters.orm import Listing
from service.domain.credentials import Principal, Role
from service.services import listings
from tests.browser.conftest import (
    MOBILE,
    assert_accessible,
    assert_no_console_errors,
    screenshot,
    seed_member,
    seed_organization,
    sign_in_coordinator,
    sign_in_member,
    sign_in_partner,
)
from workers.queues import MAINTENANCE, queue

GARDEN = {
    "kind": "club",
    "direction": "receive",
    "title": "Gentle garden club",
    "description": "We grow vegetables together, then share tea.",
    "interests": ["gardening", "food"],
    "causes": ["environment"],
    "lat": 51.462,
    "lon": -2.566,
    "area": "Easton",
    "weekly_slots": [{"day": "sat", "start": "10:00", "minutes": 90}],
    "timezone": "Europe/London",
    "group_size": "small",
    "structure": "structured",
    "pace": "low_key",
}


def checked(page, name: str, expected_status: int | None = None) -> None:
    """What every page of a flow must pass: accessible, no console or CSP error, a picture.
    (Chromium logs any 4xx page as a failed resource: an expected status is not an error.)"""
    page.wait_for_load_state("load")
    assert_accessible(page)
    ignore = (f"status of {expected_status}",) if expected_status else ()
    assert_no_console_errors(page, ignore=ignore)
    screenshot(page, name)


def post_listing(kindred, organization_id: int, **changes):
    caller = Principal(Role.PARTNER, organization_id)
    return listings.create_listing(kindred.uow(), caller, {**GARDEN, **changes})


def test_coordinator_approves_a_listing_reads_the_chart_and_retries_a_failed_job(
    coordinator_page, organization, kindred, run_jobs
):
    page = coordinator_page
    org, _ = organization
    pending = post_listing(kindred, org.id, title="Repair cafe")
    assert pending.status.value == "pending_review"
    failing = queue(MAINTENANCE, kindred.redis).enqueue("json.loads", "not json")
    run_jobs()

    page.goto("/dashboard")
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(2)
    expect(
        page.get_by_role("img", name=re.compile("Suggestions and answers per week"))
    ).to_be_visible()
    page.get_by_text("The numbers behind “Suggestions and answers per week”").click()
    expect(page.get_by_role("columnheader", name="said yes").first).to_be_visible()
    checked(page, "flow-coordinator-overview")

    page.get_by_role("link", name="Listings to review").click()
    expect(page.get_by_role("heading", name="Repair cafe")).to_be_visible()
    checked(page, "flow-coordinator-review")
    page.get_by_role("button", name="Approve “Repair cafe”").click()
    expect(page.get_by_role("status")).to_contain_text("approved and live")
    with kindred.uow() as uow:
        assert uow.listings.get(pending.id).status.value == "active"

    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("cell", name="JSONDecodeError", exact=False)).to_be_visible()
    checked(page, "flow-coordinator-jobs")
    page.get_by_role("button", name=f"Retry {failing.id}").click()
    expect(page.get_by_role("status")).to_contain_text("Re-queued 1 job")
    assert queue(MAINTENANCE, kindred.redis).failed_job_registry.count == 0

    for link, name in [
        ("Coverage gaps", "flow-coordinator-coverage"),
        ("Went quiet", "flow-coordinator-quiet"),
        ("Organizations", "flow-coordinator-organizations"),
    ]:
        page.get_by_role("link", name=link, exact=True).click()
        checked(page, name)
    page.get_by_role("link", name="Garden Friends").click()
    checked(page, "flow-coordinator-organization")


def test_partner_posts_a_listing_through_the_form(partner_page, organization, kindred):
    page = partner_page
    org, _ = organization
    checked(page, "flow-partner-home-empty")
    page.locator("#main").get_by_role("link", name="Post a listing").click()
    checked(page, "flow-partner-new-listing")
    page.locator("#kind-club").check()
    page.locator("#direction-receive").check()
    page.get_by_label("Title").fill("Saturday walk")
    page.get_by_label("Description").fill("A slow, flat walk with a stop for tea.")
    page.get_by_label("Interests").fill("walking, nature")
    page.get_by_label("Area name").fill("Easton")
    page.get_by_label("Latitude").fill("51.462")
    page.get_by_label("Longitude").fill("-2.566")
    page.get_by_label("Time zone").fill("Europe/London")
    page.locator("#slot-0-day").select_option("sat")
    page.locator("#slot-0-start").fill("10:00")
    page.locator("#slot-0-minutes").fill("90")
    page.locator("#group_size-small").check()
    page.locator("#structure-structured").check()
    page.locator("#pace-low_key").check()
    page.get_by_role("button", name="Submit for review").click()

    expect(page.get_by_role("cell", name="Saturday walk")).to_be_visible()
    checked(page, "flow-partner-home-posted")
    with kindred.uow() as uow:
        posted = uow.session.scalar(sa.select(Listing).where(Listing.title == "Saturday walk"))
        assert posted.organization_id == org.id
        assert posted.status.value == "pending_review"  # unverified: a coordinator reviews it
        assert posted.weekly_slots == [{"day": "sat", "start": "10:00", "minutes": 90}]
        assert posted.interests == ["nature", "walking"]


def test_a_form_error_is_announced_next_to_its_field(partner_page):
    page = partner_page
    page.goto("/partner/listings/new")
    page.get_by_role("button", name="Submit for review").click()
    summary = page.get_by_role("alert")
    expect(summary).to_be_visible()
    expect(page.locator("#title")).to_have_attribute("aria-invalid", "true")
    checked(page, "flow-partner-form-errors", expected_status=422)


def test_member_joins_asks_for_matches_answers_and_downloads_their_data(
    new_page, kindred, coordinator_account, run_jobs
):
    verified, _ = seed_organization(
        kindred, coordinator_account, name="Trusted Walkers", verified=True
    )
    post_listing(kindred, verified.id)
    run_jobs()  # its fan-out, before anyone joins
    page = new_page()

    page.goto("/me/join")
    checked(page, "flow-member-join")
    page.get_by_label("Your name, as others will see it").fill("Robin")
    page.get_by_label("Your email").fill("robin@example.org")
    page.get_by_label("What you enjoy").fill("gardening, cooking")
    page.get_by_label("Causes and values you care about").fill("environment")
    page.get_by_label("Where you are").select_option("Easton")
    page.get_by_label("Use my profile to suggest groups and people").check()
    page.get_by_role("button", name=re.compile("Join")).click()
    expect(page).to_have_url(re.compile(r"/me$"))
    checked(page, "flow-member-home-new")

    page.get_by_role("button", name="Find suggestions now").click()
    expect(page).to_have_url(re.compile(r"/me/match-requests/\d+"))
    checked(page, "flow-member-match-request")
    run_jobs()  # the matching worker answers; the page's script notices and moves on
    page.wait_for_url(re.compile(r"/me$"), timeout=15_000)
    suggestion = page.get_by_role("article").filter(has_text="Gentle garden club")
    expect(suggestion).to_contain_text("gardening")
    checked(page, "flow-member-suggestions")
    suggestion.get_by_role("button", name="Yes, I would like to go").click()
    expect(page.get_by_role("status")).to_be_visible()
    checked(page, "flow-member-answered")

    page.get_by_role("link", name="Going back").click()
    checked(page, "flow-member-going")
    going = page.get_by_role("article").filter(has_text="Gentle garden club")
    going.get_by_role("button", name="I went").click()
    expect(page.get_by_role("status")).to_contain_text("is noted")
    checked(page, "flow-member-went")

    page.get_by_role("link", name=re.compile("Privacy|Your data", re.I)).first.click()
    checked(page, "flow-member-privacy")
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download", re.I)).click()
    exported = json.loads(download_info.value.path().read_text())
    assert exported["profile"]["email"] == "robin@example.org"
    assert exported["profile"]["consents"]["matching"]["granted"] is True


def test_member_pages_work_on_a_phone(new_page, live_server, member_account):
    page = new_page(MOBILE)
    sign_in_member(page, live_server)
    for path, name in [
        ("/me", "mobile-member-home"),
        ("/me/profile", "mobile-member-profile"),
        ("/me/going", "mobile-member-going"),
    ]:
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width}px)"
        checked(page, name)


def test_each_role_is_refused_the_others_pages(
    new_page, live_server, coordinator_account, organization, member_account
):
    coordinator, partner, member = new_page(), new_page(), new_page()  # three browsers' cookies
    sign_in_coordinator(coordinator)
    sign_in_partner(partner, organization[1])
    sign_in_member(member, live_server, member_account.member.email)
    for page, refused in [
        (coordinator, ["/me", "/partner"]),
        (member, ["/dashboard", "/partner"]),
        (partner, ["/dashboard", "/me"]),
    ]:
        for path in refused:
            response = page.goto(path)
            assert response.status == 403, path
            expect(page.get_by_role("heading", level=1)).to_have_text("Not for this account")
    checked(member, "flow-member-refused-partner", expected_status=403)


def test_an_unknown_address_is_a_readable_page(page):
    response = page.goto("/no-such-page")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    checked(page, "not-found", expected_status=404)


def test_member_starts_answers_and_stops_the_connection_check_in(new_page, live_server, kindred):
    seed_member(kindred)  # no consent yet
    page = new_page()
    sign_in_member(page, live_server)
    page.get_by_role("link", name="Check-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Connection check-in")
    checked(page, "flow-member-check-in-off")
    page.get_by_role("button", name="Start monthly check-ins").click()
    expect(page.get_by_role("status")).to_contain_text("Monthly check-ins are on")
    checked(page, "flow-member-check-in-questions")
    for question in ("lack companionship", "left out", "isolated from others"):
        group = page.get_by_role("group", name=re.compile(question))
        group.get_by_label("Often").check()
    page.get_by_role("button", name="Save my answers").click()
    expect(page.get_by_role("status")).to_contain_text("Only you can see them")
    expect(page.get_by_role("heading", name="Where to find support")).to_be_visible()
    expect(page.locator("svg.chart")).to_be_visible()
    checked(page, "flow-member-check-in-trend")
    page.set_viewport_size(MOBILE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the check-in page scrolls sideways on a phone ({width}px)"
    page.get_by_role("button", name="Stop check-ins and delete my answers").click()
    expect(page.get_by_role("status")).to_contain_text("has been deleted")
    checked(page, "flow-member-check-in-stopped")
