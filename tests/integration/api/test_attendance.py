"""Attendance: "I went" from a member, a check-in from the partner, once per day, and what the
matcher makes of it (the strongest positive signal; a "start slowly" member moves a step up)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.adapters.matcher_source import profile_record
from service.adapters.orm import SessionAttendance, utcnow
from tests.integration.api.conftest import listing_body, make_partner, sign_up
from tests.support import group_suggestion

CONSENTING = {"consents": {"matching": True, "peer_introductions": False}}


@pytest.fixture
def garden(verified_partner) -> int:
    response = verified_partner.post("/api/v1/listings", json=listing_body())
    assert response.status_code == 201, response.json
    return response.json["id"]


def suggest(kindred, member, listing_id: int) -> int:
    """A group suggestion as a matching job stores one."""
    with kindred.uow() as uow:
        suggestion = group_suggestion(
            member.member_id,
            listing_id,
            "2026-W48",
            reasons=["matches your interest in gardening"],
        )
        uow.session.add(suggestion)
        uow.commit()
        return suggestion.id


def say_yes(kindred, member, listing_id: int, share_contact: bool) -> int:
    suggestion_id = suggest(kindred, member, listing_id)
    answered = member.post(
        f"/api/v1/suggestions/{suggestion_id}/response",
        json={"answer": "yes", "share_contact": share_contact},
    )
    assert answered.status_code == 200, answered.json
    return suggestion_id


def test_a_member_says_i_went_once_per_day(member, garden):
    first = member.post("/api/v1/members/me/attendance", json={"listing_id": garden})
    assert first.status_code == 201, first.json
    assert first.json["listing"]["id"] == garden and first.json["recorded_by"] == "member"
    assert first.json["session_on"] == utcnow().date().isoformat()
    again = member.post("/api/v1/members/me/attendance", json={"listing_id": garden})
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    last_week = (utcnow().date() - timedelta(days=7)).isoformat()
    earlier = member.post(
        "/api/v1/members/me/attendance", json={"listing_id": garden, "session_on": last_week}
    )
    assert earlier.status_code == 201
    mine = member.get("/api/v1/members/me/attendance").json
    assert [a["session_on"] for a in mine] == [first.json["session_on"], last_week]


@pytest.mark.parametrize(
    ("session_on", "problem"),
    [
        ((utcnow().date() + timedelta(days=3)).isoformat(), "is in the future"),
        ((utcnow().date() - timedelta(days=90)).isoformat(), "within the last 60 days"),
        ("2026-13-01", "Not a valid date"),
        ("2026-11-260000", "Longer than maximum length"),
    ],
)
def test_a_day_that_cannot_be_is_refused_naming_the_field(member, garden, session_on, problem):
    response = member.post(
        "/api/v1/members/me/attendance", json={"listing_id": garden, "session_on": session_on}
    )
    assert response.status_code == 422, response.json
    (message,) = response.json["errors"]["session_on"]
    assert problem in message
    assert member.get("/api/v1/members/me/attendance").json == []


def test_a_listing_not_yet_live_or_unknown_is_not_found(member, partner):
    pending = partner.post("/api/v1/listings", json=listing_body())  # unverified: in review
    assert pending.json["status"] == "pending_review"
    for listing_id in (pending.json["id"], 999_999):
        response = member.post("/api/v1/members/me/attendance", json={"listing_id": listing_id})
        assert response.status_code == 404, response.json


def test_a_partner_checks_in_a_member_who_shared_their_contact(
    app, kindred, coordinator, verified_partner, garden
):
    ann = sign_up(app, **CONSENTING)
    contact = say_yes(kindred, ann, garden, share_contact=True)
    (shown,) = verified_partner.get(f"/api/v1/listings/{garden}/interest").json["contacts"]
    assert shown["contact_id"] == contact

    checked = verified_partner.post(
        f"/api/v1/listings/{garden}/check-ins", json={"contact_id": contact}
    )
    assert checked.status_code == 201, checked.json
    assert checked.json["recorded_by"] == "partner"
    # The member saying so the same day is the same visit.
    said = ann.post("/api/v1/members/me/attendance", json={"listing_id": garden})
    assert said.status_code == 200 and said.json["id"] == checked.json["id"]
    assert [a["recorded_by"] for a in ann.get("/api/v1/members/me/attendance").json] == ["partner"]

    # Another organization cannot check anyone in to it, nor use the contact elsewhere.
    other = make_partner(coordinator, app, "Other Org", verified=True)
    refused = other.post(f"/api/v1/listings/{garden}/check-ins", json={"contact_id": contact})
    assert refused.status_code == 404
    own = other.post("/api/v1/listings", json=listing_body(title="Other garden")).json["id"]
    elsewhere = other.post(f"/api/v1/listings/{own}/check-ins", json={"contact_id": contact})
    assert elsewhere.status_code == 404


def test_only_members_who_shared_their_contact_can_be_checked_in(
    app, kindred, verified_partner, garden
):
    bob = sign_up(app, email="bob@example.org", display_name="Bob", **CONSENTING)
    kept = say_yes(kindred, bob, garden, share_contact=False)
    cal = sign_up(app, email="cal@example.org", display_name="Cal", **CONSENTING)
    unanswered = suggest(kindred, cal, garden)
    for contact in (kept, unanswered):
        response = verified_partner.post(
            f"/api/v1/listings/{garden}/check-ins", json={"contact_id": contact}
        )
        assert response.status_code == 404, response.json
    with kindred.uow() as uow:
        assert not uow.session.scalar(sa.select(sa.func.count()).select_from(SessionAttendance))


def test_attendance_moves_a_start_slowly_member_up_and_changes_the_next_suggestions(
    app, kindred, verified_partner
):
    gentle = verified_partner.post(
        "/api/v1/listings", json=listing_body(title="Small quiet garden club")
    ).json["id"]
    livelier = verified_partner.post(
        "/api/v1/listings",
        json=listing_body(
            title="Big community garden day", group_size="medium", structure="open_social"
        ),
    ).json["id"]
    ann = sign_up(
        app,
        start_slowly=True,
        comfort_group_size="medium",
        comfort_structure="open_social",
        **CONSENTING,
    )

    def scores() -> dict[int, float]:
        with kindred.uow() as uow:
            fitted = kindred.matchers.get(uow.session)
            profile = profile_record(uow.members.get(ann.member_id))
        found = fitted.group.recommend(profile, k=10)
        return {s.listing_id: s.score for s in found}

    before = scores()
    assert before[gentle] > before[livelier]  # a gentle first step first
    assert ann.post("/api/v1/members/me/attendance", json={"listing_id": gentle}).status_code == 201
    after = scores()
    assert kindred.matchers.fits == 2  # attendance changed what the model was fitted on
    with kindred.uow() as uow:
        assert kindred.matchers.get(uow.session).group.steps_[ann.member_id] == 1.0  # a step
    assert after[livelier] > before[livelier]  # one step up: the livelier one fits better now
    assert after[gentle] - after[livelier] < before[gentle] - before[livelier]


def test_attendance_is_exported_and_erased_with_the_member(app, kindred, member, garden):
    member.post("/api/v1/members/me/attendance", json={"listing_id": garden})
    exported = member.get("/api/v1/members/me/export").json
    assert [a["listing"]["id"] for a in exported["attendance"]] == [garden]
    assert member.delete("/api/v1/members/me").status_code == 204
    with kindred.uow() as uow:
        assert not uow.session.scalar(sa.select(sa.func.count()).select_from(SessionAttendance))
