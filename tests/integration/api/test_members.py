"""Members: sign-up, own profile, consents with history, export, erasure, privacy."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from service.adapters.orm import ConsentRecord, Member, MemberTag
from tests.integration.api.conftest import Caller, sign_up

PRIVATE_FIELDS = (
    "email",
    "comfort_group_size",
    "comfort_structure",
    "comfort_pace",
    "start_slowly",
    "consents",
)


def test_sign_up_returns_token_and_private_profile(anonymous, app):
    response = anonymous.post(
        "/api/v1/members",
        json={
            "display_name": "Cleo",
            "email": "Cleo@Example.org",
            "interests": ["Board Games"],
            "interests_text": "I like quiet evenings",
            "causes": ["literacy"],
            "lat": 51.45,
            "lon": -2.6,
            "area": "Bedminster",
            "travel_radius_km": 3,
            "availability": ["sat_morning", "wed_evening", "sat_morning"],
            "comfort_group_size": "small",
            "comfort_structure": "structured",
            "comfort_pace": "low_key",
            "start_slowly": True,
            "attendance": "either",
            "notify_channels": ["email", "in_app"],
            "digest_day": "fri",
            "quiet_hours_start": "22:00",
            "quiet_hours_end": "07:30",
            "timezone": "Europe/London",
            "max_notifications_per_week": 2,
            "consents": {"matching": True, "peer_introductions": False},
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["token"].startswith("km_")
    profile = body["profile"]
    assert profile["interests"] == ["board games"]
    assert profile["availability"] == ["sat_morning", "wed_evening"]
    assert profile["start_slowly"] is True
    assert profile["consents"]["matching"]["granted"] is True
    assert profile["consents"]["matching"]["changed_at"] is not None
    assert profile["consents"]["peer_introductions"]["granted"] is False
    me = Caller(app.test_client(), body["token"]).get("/api/v1/members/me")
    assert me.status_code == 200 and me.json["id"] == body["id"]


def test_consents_default_to_not_given(member):
    consents = member.get("/api/v1/members/me").json["consents"]
    assert consents["matching"]["granted"] is False
    assert consents["peer_introductions"]["granted"] is False


def test_duplicate_email_is_409(member, anonymous):
    response = anonymous.post(
        "/api/v1/members", json={"display_name": "Ann again", "email": "ann@example.org"}
    )
    assert response.status_code == 409
    assert response.json["errors"] == {"email": ["already registered"]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("display_name", ""),
        ("display_name", "n" * 61),
        ("interests", ["x" * 41]),
        ("interests", [f"tag {n}" for n in range(21)]),
        ("interests_text", "t" * 1001),
        ("lat", -91),
        ("lon", 181),
        ("travel_radius_km", 0),
        ("travel_radius_km", 101),
        ("availability", ["someday_morning"]),
        ("attendance", "hologram"),
        ("comfort_group_size", "enormous"),
        ("comfort_pace", "warp"),
        ("notify_channels", []),
        ("notify_channels", ["carrier_pigeon"]),
        ("digest_day", "caturday"),
        ("quiet_hours_start", "9pm"),
        ("timezone", "Mars/Olympus_Mons"),
        ("max_notifications_per_week", 15),
        ("consents", {"matching": True}),
        ("consents", {"matching": True, "peer_introductions": False, "marketing": True}),
        ("password", "hunter2"),
    ],
)
def test_sign_up_validation_names_the_field(anonymous, kindred, field, value):
    body = {"display_name": "Val", "email": "val@example.org", field: value}
    response = anonymous.post("/api/v1/members", json=body)
    assert response.status_code == 422, response.json
    assert any(name.split("[")[0].split(".")[0] == field for name in response.json["errors"]), (
        response.json
    )
    with kindred.uow() as uow:
        assert uow.members.count() == 0  # nothing half-written


def test_update_profile(member):
    response = member.patch(
        "/api/v1/members/me",
        json={
            "interests": ["Walking", "birdwatching"],
            "comfort_pace": "moderate",
            "travel_radius_km": 8,
        },
    )
    assert response.status_code == 200
    assert response.json["interests"] == ["birdwatching", "walking"]
    assert response.json["causes"] == ["environment"]  # untouched
    assert response.json["comfort_pace"] == "moderate"
    assert member.get("/api/v1/members/me").json["travel_radius_km"] == 8


def test_update_validation_and_email_conflict(member, other_member):
    assert member.patch("/api/v1/members/me", json={"lat": 100}).status_code == 422
    assert member.patch("/api/v1/members/me", json={"token_hash": "x"}).status_code == 422
    taken = member.patch("/api/v1/members/me", json={"email": "bob@example.org"})
    assert taken.status_code == 409
    assert member.get("/api/v1/members/me").json["email"] == "ann@example.org"


def test_member_routes_need_a_member(anonymous, partner, coordinator):
    for caller, status in ((anonymous, 401), (partner, 403), (coordinator, 403)):
        assert caller.get("/api/v1/members/me").status_code == status
        assert caller.patch("/api/v1/members/me", json={"area": "x"}).status_code == status
        assert caller.delete("/api/v1/members/me").status_code == status
        assert caller.get("/api/v1/members/me/export").status_code == status
        assert (
            caller.put(
                "/api/v1/members/me/consents", json={"matching": True, "peer_introductions": True}
            ).status_code
            == status
        )


def test_bad_tokens_are_401_with_challenge(app):
    for header in ("Bearer km_not-a-real-token", "Basic abc", "Bearer ", "km_raw"):
        response = app.test_client().get("/api/v1/members/me", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json["code"] == 401


def test_consents_change_with_time_and_history(member, kindred):
    given = member.put(
        "/api/v1/members/me/consents", json={"matching": True, "peer_introductions": True}
    )
    assert given.status_code == 200
    first_time = given.json["consents"]["peer_introductions"]["changed_at"]
    withdrawn = member.put(
        "/api/v1/members/me/consents", json={"matching": True, "peer_introductions": False}
    )
    consents = withdrawn.json["consents"]
    assert consents["peer_introductions"]["granted"] is False
    assert consents["peer_introductions"]["changed_at"] >= first_time
    history = member.get("/api/v1/members/me/export").json["consent_history"]
    # Sign-up gave no consent, so nothing was recorded until the member chose.
    assert [(h["purpose"], h["granted"]) for h in history] == [
        ("matching", True),
        ("peer_introductions", True),
        ("peer_introductions", False),
    ]


def test_consents_need_both_answers(member):
    response = member.put("/api/v1/members/me/consents", json={"matching": True})
    assert response.status_code == 422
    assert "peer_introductions" in response.json["errors"]


def test_export_contains_everything(member):
    member.put("/api/v1/members/me/consents", json={"matching": True, "peer_introductions": False})
    export = member.get("/api/v1/members/me/export")
    assert export.status_code == 200
    profile = export.json["profile"]
    assert profile["email"] == "ann@example.org"
    assert profile["interests"] == ["gardening"]
    assert export.json["exported_at"]
    assert [(h["purpose"], h["granted"]) for h in export.json["consent_history"]] == [
        ("matching", True),
        ("peer_introductions", False),
    ]


def test_erase_removes_member_and_all_rows(member, other_member, kindred):
    assert member.delete("/api/v1/members/me").status_code == 204
    assert member.get("/api/v1/members/me").status_code == 401  # token died with the account
    with kindred.uow() as uow:
        session = uow.session
        assert session.scalar(sa.select(sa.func.count()).select_from(Member)) == 1
        for table in (MemberTag, ConsentRecord):
            owners = set(session.scalars(sa.select(table.member_id)))
            assert owners <= {other_member.member_id}
    assert other_member.get("/api/v1/members/me").status_code == 200


def test_one_member_never_sees_another(member, other_member, app):
    text = json.dumps(member.get("/api/v1/members/me").json)
    assert "bob@example.org" not in text
    third = sign_up(app, email="cy@example.org", display_name="Cy")
    assert third.get("/api/v1/members/me").json["id"] not in (
        member.member_id,
        other_member.member_id,
    )


def test_private_fields_only_in_the_members_own_answers(member, verified_partner, coordinator):
    member.patch("/api/v1/members/me", json={"start_slowly": True})
    for caller in (verified_partner, coordinator):
        for path in (
            "/api/v1/listings",
            "/api/v1/organizations",
            f"/api/v1/organizations/{verified_partner.organization_id}",
        ):
            response = caller.get(path)
            text = json.dumps(response.json)
            assert "ann@example.org" not in text
            for field in PRIVATE_FIELDS[1:]:
                assert f'"{field}"' not in text


def test_saving_an_unchanged_profile_is_activity_not_a_change(member, kindred):
    """updated_at makes the matcher refit; last_active_at keeps a member off the quiet list."""
    with kindred.uow() as uow:
        before = uow.members.get(member.member_id)
        updated_at, last_active_at = before.updated_at, before.last_active_at
    assert member.patch("/api/v1/members/me", json={"display_name": "Ann"}).status_code == 200
    with kindred.uow() as uow:
        after = uow.members.get(member.member_id)
        assert after.updated_at == updated_at and after.last_active_at > last_active_at
    assert member.patch("/api/v1/members/me", json={"display_name": "Annie"}).status_code == 200
    with kindred.uow() as uow:
        assert uow.members.get(member.member_id).updated_at > updated_at
