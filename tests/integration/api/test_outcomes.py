"""The outcome figures: groups of ten are shown with the right numbers, groups of nine are never
returned, by any route (the API, the page, every other coordinator route)."""

from __future__ import annotations

import re

import pytest

from service.domain.credentials import Principal, Role
from service.services import outcomes
from tests.integration.api.conftest import Caller
from tests.integration.outcome_world import (
    NINE_GROUP_FIGURES,
    WITHHELD_TITLE,
    build_outcome_world,
)
from tests.integration.pages.conftest import PageClient

REPORT = "/api/v1/reports/outcomes"


@pytest.fixture
def world(kindred):
    return build_outcome_world(kindred)


def test_groups_of_ten_are_shown_with_their_numbers_and_groups_of_nine_withheld(world, coordinator):
    response = coordinator.get(REPORT)
    assert response.status_code == 200, response.json
    report = response.json
    expected = world.expected
    assert report["min_group_size"] == 10
    assert len(report["months"]) == 6 and world.month_a in report["months"]
    assert report["second_visits"] == {"rows": expected["second_visits"], "withheld": 5}
    assert report["introductions"] == {"rows": expected["introductions"], "withheld": 5}
    assert report["attendance"] == {
        "rows": expected["attendance"],
        "withheld": expected["attendance_withheld"],
    }
    assert report["top_listings"] == [
        {"listing_id": world.shown_listing, "title": "Riverside walk", "total": 16}
    ]
    assert report["checkins"] == {
        "start_slowly": {"rows": expected["start_slowly"], "withheld": 5},
        "others": {"rows": expected["others"], "withheld": 5},
    }
    text = response.get_data(as_text=True)
    assert WITHHELD_TITLE not in text
    assert not leaked_figures(text)


def test_the_minimum_is_in_the_query_itself():
    """Every figure's SQL carries the HAVING clause: nothing small reaches Python at all."""
    window = outcomes.Window.last(6, outcomes.utcnow())
    for query in (
        outcomes._second_visits_query(window),
        outcomes._introductions_query(window),
        outcomes._attendance_query(window),
        outcomes._checkins_query(window),
    ):
        compiled = str(query.compile(compile_kwargs={"literal_binds": True}))
        assert re.search(r"HAVING count\(.*\) >= 10", compiled), compiled


def test_a_window_that_ends_before_the_groups_shows_nothing(world, kindred, coordinator):
    one = coordinator.get(REPORT, query_string={"months": 1}).json
    assert len(one["months"]) == 1
    assert one["second_visits"] == {"rows": [], "withheld": 1}
    assert one["checkins"]["start_slowly"] == {"rows": [], "withheld": 1}
    longest = coordinator.get(REPORT, query_string={"months": 24}).json
    assert len(longest["months"]) == 24
    assert longest["second_visits"]["rows"] == world.expected["second_visits"]


@pytest.mark.parametrize("months", ["0", "25", "-3", "six", "2.5", ""])
def test_months_outside_1_to_24_are_refused_naming_months(coordinator, months):
    response = coordinator.get(REPORT, query_string={"months": months})
    assert response.status_code == 422, response.json
    assert "months" in response.json["errors"]


def test_unknown_parameters_are_refused(coordinator):
    response = coordinator.get(REPORT, query_string={"weeks": 4})
    assert response.status_code == 422 and "weeks" in response.json["errors"]


def test_only_coordinators_get_the_report(anonymous, member, partner, kindred):
    assert anonymous.get(REPORT).status_code == 401
    assert Caller(anonymous.client, "kc_not-a-token").get(REPORT).status_code == 401
    assert member.get(REPORT).status_code == 403
    assert partner.get(REPORT).status_code == 403
    with pytest.raises(Exception, match="coordinator"):
        outcomes.outcomes(kindred.uow(), Principal(Role.MEMBER, member.member_id))


def leaked_figures(text: str) -> list[str]:
    return [figure for figure in NINE_GROUP_FIGURES if figure in text]


def coordinator_page_client(app) -> PageClient:
    from service.services.coordinators import create_coordinator

    kindred = app.extensions["kindred"]
    create_coordinator(kindred.uow(), "sweeper@example.org", "Sweeper", "a long password")
    client = PageClient(app)
    client.get("/dashboard/login")
    signed_in = client.post(
        "/dashboard/login", {"email": "sweeper@example.org", "password": "a long password"}
    )
    assert signed_in.status_code == 302
    return client


def test_no_coordinator_route_shows_a_group_of_nine(world, app, coordinator):
    """Every GET route of the app, as a coordinator (pages signed in, the API with the token),
    with path ids naming the world's objects: the nine-member groups' figures appear nowhere."""
    page = coordinator_page_client(app)
    ids = {"organization_id": world.organization_id, "listing_id": world.withheld_listing}
    swept = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.endswith("static"):
            continue
        if set(rule.arguments) - set(ids):
            continue  # a token, a file name or a member's own object: not a coordinator's view
        path = rule.build({name: ids[name] for name in rule.arguments}, append_unknown=False)[1]
        for query in ({}, {"months": 24}):
            if path.startswith(("/api/", "/openapi.json", "/metrics", "/readyz", "/healthz")):
                response = coordinator.get(path, query_string=query)
            else:
                response = page.get(path, query_string=query)
            swept.append((path, response.status_code))
            text = response.get_data(as_text=True)
            assert not leaked_figures(text), (path, leaked_figures(text))
    paths = {path for path, _ in swept}
    assert {REPORT, "/dashboard/outcomes", "/dashboard"} <= paths
    assert ("/dashboard/outcomes", 200) in swept and (REPORT, 200) in swept


def test_the_search_would_find_a_group_of_nine(world, coordinator, monkeypatch):
    """With the minimum at 9 the nine-member groups show, and the search finds their figures:
    the sweep above would notice a leak."""
    monkeypatch.setattr(outcomes, "MIN_GROUP_SIZE", 9)
    text = coordinator.get(REPORT).get_data(as_text=True)
    assert {"0.778", "6.56"} <= set(leaked_figures(text))
