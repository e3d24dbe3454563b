"""Inputs a careless or hostile caller sends: each is a clear 4xx, never a 500, never stored."""

from __future__ import annotations

import json

import pytest

from tests.integration.api.conftest import listing_body


def test_sign_up_with_only_required_fields(anonymous, app):
    response = anonymous.post("/api/v1/members", json={"display_name": "Min", "email": "m@x.org"})
    assert response.status_code == 201, response.json
    assert response.json["profile"]["interests"] == []
    assert response.json["profile"]["attendance"] == "in_person"


@pytest.mark.parametrize(
    "slots",
    [[{}], [{"day": "mon"}], [{"start": "10:00", "minutes": 30}]],
)
def test_edit_cannot_store_an_incomplete_weekly_slot(verified_partner, slots):
    listing = verified_partner.post("/api/v1/listings", json=listing_body()).json
    response = verified_partner.patch(
        f"/api/v1/listings/{listing['id']}", json={"weekly_slots": slots}
    )
    assert response.status_code == 422
    assert all(name.startswith("weekly_slots[0].") for name in response.json["errors"])
    stored = verified_partner.get(f"/api/v1/listings/{listing['id']}").json["weekly_slots"]
    assert stored == listing["weekly_slots"]


def test_nested_errors_are_named_by_path(verified_partner):
    body = listing_body(
        weekly_slots=[
            {"day": "mon", "start": "10:00", "minutes": 60},
            {"day": "xx", "start": "10:00", "minutes": 60},
        ]
    )
    response = verified_partner.post("/api/v1/listings", json=body)
    assert response.json["errors"] == {
        "weekly_slots[1].day": ["Must be one of: mon, tue, wed, thu, fri, sat, sun."]
    }


@pytest.mark.parametrize("zone", ["America", "../../etc/passwd", "Z" * 5000, "Europe/Nowhere"])
def test_time_zone_must_be_a_known_name(member, zone):
    response = member.patch("/api/v1/members/me", json={"timezone": zone})
    assert response.status_code == 422
    assert "timezone" in response.json["errors"]


def test_huge_ids_are_not_found(coordinator, partner):
    assert coordinator.get("/api/v1/listings/99999999999").status_code == 404
    assert coordinator.get("/api/v1/organizations/99999999999").status_code == 404
    org = partner.organization_id
    assert partner.delete(f"/api/v1/organizations/{org}/keys/99999999999").status_code == 404


def test_huge_page_number_is_refused(member):
    response = member.get("/api/v1/listings?page=99999999999999999999")
    assert response.status_code == 422
    assert "page" in response.json["errors"]


@pytest.mark.parametrize("name", ["a\u0000b", "a\u202eb", "\u0007bell", "   "])
def test_names_with_control_characters_or_nothing_visible_are_refused(member, name):
    response = member.patch("/api/v1/members/me", json={"display_name": name})
    assert response.status_code == 422
    assert "display_name" in response.json["errors"]


def test_lone_surrogate_in_raw_json_is_refused(member):
    response = member.patch(
        "/api/v1/members/me",
        data=b'{"display_name": "\\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_descriptions_keep_their_line_breaks(verified_partner):
    response = verified_partner.post(
        "/api/v1/listings", json=listing_body(description="First line.\n\nSecond paragraph.")
    )
    assert response.json["description"] == "First line.\n\nSecond paragraph."


def test_deeply_nested_json_is_400(member):
    body = b"[" * 20000 + b"]" * 20000
    response = member.patch(
        "/api/v1/members/me", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json["code"] == 400


def test_a_body_that_is_not_json_is_415(member):
    response = member.patch(
        "/api/v1/members/me", data="area=Clifton", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert member.get("/api/v1/members/me").json["area"] is None


def test_credentials_are_checked_before_the_body(anonymous, member, partner):
    assert anonymous.post("/api/v1/listings", json={}).status_code == 401
    assert anonymous.get("/api/v1/listings?foo=1").status_code == 401
    assert member.post("/api/v1/organizations", json={}).status_code == 403
    assert partner.post("/api/v1/listings/1/review", json={}).status_code == 403
    assert member.post("/api/v1/listings", json={}).status_code == 403


@pytest.mark.parametrize(
    "change",
    [
        {"interests": ["poker"]},
        {"lat": 51.5, "lon": -2.5},
        {"is_virtual": True},
        {"weekly_slots": [{"day": "sun", "start": "23:00", "minutes": 60}]},
        {"accessibility": ["step_free", "quiet_space"]},
    ],
)
def test_any_visible_edit_by_unverified_partner_needs_review(partner, coordinator, change):
    listing = partner.post("/api/v1/listings", json=listing_body()).json
    coordinator.post(f"/api/v1/listings/{listing['id']}/review", json={"decision": "approve"})
    response = partner.patch(f"/api/v1/listings/{listing['id']}", json=change)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "pending_review"


def test_emails_are_one_whatever_their_case(anonymous):
    first = anonymous.post("/api/v1/members", json={"display_name": "A", "email": "CHESS@x.org"})
    assert first.json["profile"]["email"] == "chess@x.org"
    second = anonymous.post("/api/v1/members", json={"display_name": "B", "email": "chess@X.org"})
    assert second.status_code == 409


def test_organization_rename_cannot_take_another_name(partner, other_partner):
    response = partner.patch(
        f"/api/v1/organizations/{partner.organization_id}", json={"name": "OTHER CLUB"}
    )
    assert response.status_code == 409


@pytest.mark.parametrize("value", ["yes", 1, "true", None])
def test_consent_must_be_a_real_boolean(member, value):
    response = member.put(
        "/api/v1/members/me/consents", json={"matching": value, "peer_introductions": False}
    )
    assert response.status_code == 422
    assert member.get("/api/v1/members/me").json["consents"]["matching"]["granted"] is False


def test_half_a_coordinate_is_refused(member, verified_partner):
    assert member.patch("/api/v1/members/me", json={"lat": None}).status_code == 422
    virtual = listing_body(is_virtual=True, lat=10.0, lon=None, area=None)
    response = verified_partner.post("/api/v1/listings", json=virtual)
    assert response.status_code == 422 and "lon" in response.json["errors"]


def test_repeated_list_entries_are_kept_once(verified_partner):
    body = listing_body(
        accessibility=["step_free"] * 8,
        languages=["en", "es", "en"],
        interests=["Gardening", "gardening", " GARDENING "],
    )
    response = verified_partner.post("/api/v1/listings", json=body)
    assert response.status_code == 201, response.json
    assert response.json["accessibility"] == ["step_free"]
    assert response.json["languages"] == ["en", "es"]
    assert response.json["interests"] == ["gardening"]


def test_sessions_are_kept_in_time_order_across_zones(verified_partner):
    body = listing_body(
        sessions=[
            {"starts_at": "2026-12-05T09:00:00+00:00", "minutes": 60},
            {"starts_at": "2026-12-05T10:00:00+05:00", "minutes": 60},  # 05:00 UTC: earlier
        ]
    )
    sessions = verified_partner.post("/api/v1/listings", json=body).json["sessions"]
    assert [s["starts_at"] for s in sessions] == [
        "2026-12-05T05:00:00+00:00",
        "2026-12-05T09:00:00+00:00",
    ]


def test_sessions_need_a_plausible_date(verified_partner):
    body = listing_body(sessions=[{"starts_at": "0001-01-01T00:00:00+00:00", "minutes": 60}])
    response = verified_partner.post("/api/v1/listings", json=body)
    assert response.status_code == 422
    assert "sessions[0].starts_at" in response.json["errors"]


# Found by schemathesis (tests/fuzz) ---------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "-1", "201", "9223372036854775808"])
def test_inbox_limit_out_of_range_is_refused(member, limit):
    """The bound was a lambda returning False, which marshmallow 4 ignores: -1 read the whole
    inbox and a huge number was a 500 (an overflow in the database driver)."""
    response = member.get(f"/api/v1/members/me/notifications?limit={limit}")
    assert response.status_code == 422
    assert "limit" in response.json["errors"]


def test_inbox_limit_bounds_are_documented(anonymous):
    parameters = anonymous.get("/openapi.json").json["paths"]["/api/v1/members/me/notifications"]
    limit = next(p for p in parameters["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 200)


@pytest.mark.parametrize(
    "change",
    [
        {"notify_channels": ["in_app", "email", "in_app"]},
        {"availability": ["sat_morning"] * 22},
        {"interests": ["chess"] * 21},
    ],
)
def test_repeats_count_towards_a_list_bound(member, change):
    """Repeats are dropped, but only after the list as sent is checked against its maxItems."""
    response = member.patch("/api/v1/members/me", json=change)
    assert response.status_code == 422
    assert list(response.json["errors"]) == list(change)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("display_name", "Ann" + " " * 60),
        ("email", "ann@example.org" + " " * 250),
        ("interests", ["chess" + " " * 40]),
        ("interests_text", "\n" * 1001),
    ],
)
def test_padding_cannot_carry_text_past_its_bound(member, field, value):
    """maxLength holds for the text as sent; trimming comes after the check."""
    response = member.patch("/api/v1/members/me", json={field: value})
    assert response.status_code == 422
    assert list(response.json["errors"]) == [field if field != "interests" else "interests[0]"]


def test_a_session_time_has_a_bounded_length(verified_partner):
    """The ISO parser takes any number of digits after the seconds; the documented maxLength
    (40) is enforced before it."""
    starts_at = "2026-12-05T09:00:00." + "1" * 5000 + "+00:00"
    body = listing_body(sessions=[{"starts_at": starts_at, "minutes": 60}])
    response = verified_partner.post("/api/v1/listings", json=body)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["sessions[0].starts_at"]


def test_tags_and_session_times_document_their_bounds(anonymous):
    schemas = anonymous.get("/openapi.json").json["components"]["schemas"]
    assert schemas["ListingWrite"]["properties"]["interests"]["items"]["maxLength"] == 40
    assert schemas["DatedSession"]["properties"]["starts_at"]["maxLength"] == 40


def test_pagination_header_is_documented_as_json(member):
    """X-Pagination carries JSON; a plain header `schema` would mean `total,1,page,1`."""
    document = member.get("/openapi.json").json
    header = document["paths"]["/api/v1/listings"]["get"]["responses"]["200"]["headers"]
    assert header["X-Pagination"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginationMetadata"
    }
    response = member.get("/api/v1/listings")
    assert json.loads(response.headers["X-Pagination"])["total"] == 0
