"""How one NYC volunteer row becomes a listing payload (no database)."""

from __future__ import annotations

import pytest

from service.importing.nyc_volunteer import SkipRow, row_to_listing

ROW = {
    "opportunity_id": "7",
    "title": "Tree Care Volunteer",
    "summary": "Water and mulch street trees with neighbours; gardening gloves provided.",
    "category_desc": "Environment",
    "org_title": "Street Tree Friends",
    "vol_requests": "12",
    "recurrence_type": "ongoing",
    "start_date_date": "March 01 2011",
    "hours": "0",
    "Latitude": "40.71",
    "Longitude": "-73.95",
    "Borough": "BROOKLYN ",
    "locality": "",
}


def test_a_complete_row():
    payload = row_to_listing(ROW)
    assert payload["kind"] == "volunteer_role" and payload["direction"] == "give"
    assert payload["title"] == "Tree Care Volunteer"
    assert payload["description"].endswith("Hosted by Street Tree Friends.")
    assert payload["causes"] == ["environment"]
    assert payload["interests"] == ["gardening", "trees"]
    assert (payload["lat"], payload["lon"], payload["area"]) == (40.71, -73.95, "Brooklyn")
    assert payload["group_size"] == "medium" and payload["capacity"] == 12
    assert payload["sessions"] == []  # ongoing: flexible times


def test_coordinates_from_the_address_text_and_a_dated_session():
    row = dict(
        ROW,
        Latitude="",
        Longitude="",
        Borough="",
        recurrence_type="onetime",
        start_date_date="April 16 2011",
        hours="3",
        locality="1 Main St\nBrooklyn, NY 11201\n(40.70, -73.99)",
    )
    payload = row_to_listing(row)
    assert (payload["lat"], payload["lon"], payload["area"]) == (40.70, -73.99, "Brooklyn")
    assert payload["sessions"] == [{"starts_at": "2011-04-16T10:00:00-04:00", "minutes": 180}]


def test_interest_falls_back_to_the_category():
    payload = row_to_listing(dict(ROW, summary="Help at the front desk.", title="Helper"))
    assert payload["interests"] == ["environment"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"title": ""}, "no title"),
        ({"summary": ""}, "no summary"),
        ({"Latitude": "", "Longitude": ""}, "no location"),
        ({"Latitude": "north", "Longitude": "west"}, "no location"),
    ],
)
def test_rows_that_cannot_be_listings(change, reason):
    with pytest.raises(SkipRow, match=reason):
        row_to_listing(dict(ROW, **change))


def test_long_text_is_shortened_at_a_word():
    payload = row_to_listing(dict(ROW, title="word " * 40))
    assert len(payload["title"]) <= 120 and payload["title"].endswith("…")
