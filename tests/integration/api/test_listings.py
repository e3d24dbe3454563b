"""Listings: posting, review, visibility, editing, closing, filters and paging."""

from __future__ import annotations

import json

import pytest

from tests.integration.api.conftest import listing_body, sign_up


def post_listing(partner, **overrides):
    response = partner.post("/api/v1/listings", json=listing_body(**overrides))
    assert response.status_code == 201, response.json
    return response.json


def test_new_listing_of_unverified_partner_waits_for_review(partner, member, coordinator):
    listing = post_listing(partner)
    assert listing["status"] == "pending_review"
    assert listing["interests"] == ["food", "gardening"]  # normalised and sorted
    assert listing["status_changed_by"] == f"organization:{partner.organization_id}"
    # Not visible to members until approved.
    assert member.get(f"/api/v1/listings/{listing['id']}").status_code == 404
    approved = coordinator.post(
        f"/api/v1/listings/{listing['id']}/review", json={"decision": "approve"}
    )
    assert approved.status_code == 200
    assert approved.json["status"] == "active"
    assert approved.json["status_changed_by"].startswith("coordinator:")
    assert member.get(f"/api/v1/listings/{listing['id']}").json["title"] == "Gentle garden club"


def test_verified_partner_listing_goes_live_at_once(verified_partner):
    assert post_listing(verified_partner)["status"] == "active"


def test_listing_can_start_as_draft_then_be_submitted(partner, verified_partner):
    draft = post_listing(partner, status="draft")
    assert draft["status"] == "draft"
    submitted = partner.patch(f"/api/v1/listings/{draft['id']}", json={"status": "pending_review"})
    assert submitted.json["status"] == "pending_review"
    verified_draft = post_listing(verified_partner, status="draft")
    live = verified_partner.patch(
        f"/api/v1/listings/{verified_draft['id']}", json={"status": "active"}
    )
    assert live.json["status"] == "active"


def test_reject_needs_a_reason_and_returns_listing_as_draft(partner, coordinator):
    listing = post_listing(partner)
    path = f"/api/v1/listings/{listing['id']}/review"
    no_reason = coordinator.post(path, json={"decision": "reject"})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    rejected = coordinator.post(path, json={"decision": "reject", "reason": "Add a place"})
    assert rejected.json["status"] == "draft"
    assert rejected.json["review_note"] == "Add a place"
    # Reviewing again is a conflict: it is no longer pending.
    again = coordinator.post(path, json={"decision": "approve"})
    assert again.status_code == 409


def test_review_is_for_coordinators_only(partner, member, anonymous):
    listing = post_listing(partner)
    path = f"/api/v1/listings/{listing['id']}/review"
    assert partner.post(path, json={"decision": "approve"}).status_code == 403
    assert member.post(path, json={"decision": "approve"}).status_code == 403
    assert anonymous.post(path, json={"decision": "approve"}).status_code == 401


def test_review_unknown_listing_is_404(coordinator):
    response = coordinator.post("/api/v1/listings/4242/review", json={"decision": "approve"})
    assert response.status_code == 404


def test_partner_sees_and_changes_only_its_own_listings(partner, other_partner, coordinator):
    mine = post_listing(partner)
    theirs = post_listing(other_partner, title="Their club")
    assert partner.get(f"/api/v1/listings/{theirs['id']}").status_code == 404
    assert (
        partner.patch(f"/api/v1/listings/{theirs['id']}", json={"title": "Mine now"}).status_code
        == 404
    )
    assert partner.delete(f"/api/v1/listings/{theirs['id']}").status_code == 404
    listed = partner.get("/api/v1/listings").json
    assert [item["id"] for item in listed] == [mine["id"]]
    # A coordinator sees both, in any status.
    assert len(coordinator.get("/api/v1/listings").json) == 2


def test_members_and_partners_cannot_post_or_edit_as_members(member, coordinator, verified_partner):
    assert member.post("/api/v1/listings", json=listing_body()).status_code == 403
    assert coordinator.post("/api/v1/listings", json=listing_body()).status_code == 403
    listing = post_listing(verified_partner)
    assert (
        member.patch(f"/api/v1/listings/{listing['id']}", json={"title": "Hacked"}).status_code
        == 403
    )
    assert member.delete(f"/api/v1/listings/{listing['id']}").status_code == 403


def test_anonymous_cannot_read_listings(anonymous, verified_partner):
    listing = post_listing(verified_partner)
    assert anonymous.get("/api/v1/listings").status_code == 401
    assert anonymous.get(f"/api/v1/listings/{listing['id']}").status_code == 401


def test_pause_resume_and_close(verified_partner, member):
    listing = post_listing(verified_partner)
    path = f"/api/v1/listings/{listing['id']}"
    assert verified_partner.patch(path, json={"status": "paused"}).json["status"] == "paused"
    assert member.get(path).status_code == 404  # paused listings are not offered
    assert verified_partner.patch(path, json={"status": "active"}).json["status"] == "active"
    assert verified_partner.delete(path).status_code == 204
    assert verified_partner.get(path).json["status"] == "closed"
    # Closed is final: no edits, no reopening.
    assert verified_partner.patch(path, json={"title": "Back again"}).status_code == 409
    assert verified_partner.patch(path, json={"status": "active"}).status_code == 409


def test_invalid_transition_names_the_status_field(partner):
    listing = post_listing(partner)
    response = partner.patch(f"/api/v1/listings/{listing['id']}", json={"status": "paused"})
    assert response.status_code == 409
    assert "status" in response.json["errors"]


def test_unverified_edit_of_live_text_goes_back_to_review(partner, coordinator):
    listing = post_listing(partner)
    coordinator.post(f"/api/v1/listings/{listing['id']}/review", json={"decision": "approve"})
    path = f"/api/v1/listings/{listing['id']}"
    capacity_only = partner.patch(path, json={"capacity": 20})
    assert capacity_only.json["status"] == "active"
    retitled = partner.patch(path, json={"title": "Something else entirely"})
    assert retitled.json["status"] == "pending_review"


def test_edit_tags_and_schedule(verified_partner):
    listing = post_listing(verified_partner)
    response = verified_partner.patch(
        f"/api/v1/listings/{listing['id']}",
        json={
            "causes": ["Climate", "community"],
            "weekly_slots": [{"day": "wed", "start": "18:30", "minutes": 60}],
            "sessions": [{"starts_at": "2026-12-05T10:00:00+00:00", "minutes": 120}],
        },
    )
    assert response.status_code == 200
    body = response.json
    assert body["causes"] == ["climate", "community"]
    assert body["interests"] == ["food", "gardening"]  # untouched
    assert body["weekly_slots"] == [{"day": "wed", "start": "18:30", "minutes": 60}]
    assert body["sessions"][0]["starts_at"].startswith("2026-12-05T10:00:00")


def test_in_person_listing_needs_a_place(verified_partner):
    response = verified_partner.post(
        "/api/v1/listings", json=listing_body(lat=None, lon=None, area=None)
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"lat", "lon", "area"}
    virtual = verified_partner.post(
        "/api/v1/listings", json=listing_body(is_virtual=True, lat=None, lon=None, area=None)
    )
    assert virtual.status_code == 201


def test_failed_edit_changes_nothing(verified_partner):
    listing = post_listing(verified_partner)
    path = f"/api/v1/listings/{listing['id']}"
    # The title is valid but removing the place is not: the whole edit is refused.
    response = verified_partner.patch(path, json={"title": "New title", "lat": None})
    assert response.status_code == 422
    assert verified_partner.get(path).json["title"] == "Gentle garden club"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "party"),
        ("direction", "take"),
        ("title", "x" * 121),
        ("title", "ab"),
        ("description", "d" * 4001),
        ("interests", []),
        ("interests", [f"tag {n}" for n in range(21)]),
        ("interests", ["<script>"]),
        ("interests", ["x" * 41]),
        ("lat", 91),
        ("lon", -181),
        ("lat", "north"),
        ("group_size", "huge"),
        ("structure", "chaotic"),
        ("pace", "frantic"),
        ("accessibility", ["teleporter"]),
        ("capacity", 0),
        ("capacity", 10001),
        ("languages", ["english"]),
        ("weekly_slots", [{"day": "someday", "start": "10:00", "minutes": 60}]),
        ("weekly_slots", [{"day": "mon", "start": "25:00", "minutes": 60}]),
        ("weekly_slots", [{"day": "mon", "start": "10:00", "minutes": 5}]),
        ("weekly_slots", [{"day": "mon", "start": "10:00", "minutes": 60, "extra": 1}]),
        ("sessions", [{"starts_at": "2026-12-05T10:00:00", "minutes": 60}]),  # no time zone
        ("status", "closed"),
        ("surprise", "field"),
    ],
)
def test_listing_validation_names_the_field(verified_partner, field, value):
    response = verified_partner.post("/api/v1/listings", json=listing_body(**{field: value}))
    assert response.status_code == 422, response.json
    assert any(name.split("[")[0].split(".")[0] == field for name in response.json["errors"]), (
        response.json
    )
    assert verified_partner.get("/api/v1/listings").json == []  # nothing half-written


def test_missing_required_fields(verified_partner):
    response = verified_partner.post("/api/v1/listings", json={})
    assert response.status_code == 422
    assert {
        "kind",
        "direction",
        "title",
        "description",
        "interests",
        "group_size",
        "structure",
        "pace",
    } <= set(response.json["errors"])


def test_filters(verified_partner, member):
    post_listing(verified_partner, title="Near garden", lat=51.455, lon=-2.59)
    post_listing(
        verified_partner,
        title="Far walk",
        kind="interest_group",
        lat=51.60,
        lon=-2.40,
        interests=["walking"],
        causes=["health"],
    )
    post_listing(
        verified_partner,
        title="Volunteer cooks",
        kind="volunteer_role",
        direction="give",
        interests=["cooking"],
        causes=["food poverty"],
    )
    post_listing(
        verified_partner,
        title="Online chat",
        is_virtual=True,
        lat=None,
        lon=None,
        area=None,
        interests=["talking"],
    )

    def titles(query):
        response = member.get(f"/api/v1/listings?{query}")
        assert response.status_code == 200, response.json
        return sorted(item["title"] for item in response.json)

    assert titles("kind=interest_group") == ["Far walk"]
    assert titles("direction=give") == ["Volunteer cooks"]
    assert titles("cause=Food%20Poverty") == ["Volunteer cooks"]
    assert titles("tag=walking") == ["Far walk"]
    assert titles("virtual=true") == ["Online chat"]
    assert titles("lat=51.455&lon=-2.59&within_km=2") == ["Near garden", "Volunteer cooks"]
    assert titles("lat=51.455&lon=-2.59&within_km=30") == [
        "Far walk",
        "Near garden",
        "Volunteer cooks",
    ]


def test_near_filter_needs_all_three(member):
    response = member.get("/api/v1/listings?lat=51.4&lon=-2.5")
    assert response.status_code == 422
    assert "within_km" in response.json["errors"]


def test_members_cannot_list_other_statuses(member, coordinator, partner):
    post_listing(partner)
    assert member.get("/api/v1/listings?status=pending_review").status_code == 403
    pending = coordinator.get("/api/v1/listings?status=pending_review").json
    assert len(pending) == 1


def test_unknown_query_parameter_is_refused(member):
    response = member.get("/api/v1/listings?colour=red")
    assert response.status_code == 422
    assert response.json["errors"] == {"colour": ["Unknown field."]}


def test_pagination_and_page_size_cap(verified_partner, member):
    for number in range(25):
        post_listing(verified_partner, title=f"Club number {number:02d}")
    first = member.get("/api/v1/listings?page=1&page_size=10")
    assert len(first.json) == 10
    meta = json.loads(first.headers["X-Pagination"])
    assert meta["total"] == 25 and meta["total_pages"] == 3
    third = member.get("/api/v1/listings?page=3&page_size=10")
    assert [item["title"] for item in third.json] == [f"Club number {n}" for n in range(20, 25)]
    too_big = member.get("/api/v1/listings?page_size=101")
    assert too_big.status_code == 422
    assert "page_size" in too_big.json["errors"]


def test_listing_responses_carry_no_member_data(verified_partner, app):
    sign_up(app, email="private@example.org", comfort_pace="low_key", start_slowly=True)
    listing = post_listing(verified_partner)
    text = json.dumps(verified_partner.get(f"/api/v1/listings/{listing['id']}").json)
    assert "private@example.org" not in text and "start_slowly" not in text
