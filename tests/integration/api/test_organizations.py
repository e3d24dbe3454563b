"""Organizations and API keys: coordinators create, partners manage their own keys."""

from __future__ import annotations

from tests.integration.api.conftest import Caller, make_partner


def test_coordinator_creates_organization_with_first_key_shown_once(coordinator, app):
    response = coordinator.post(
        "/api/v1/organizations",
        json={
            "name": "Book Circle",
            "contact_email": "hi@books.example",
            "website": "https://books.example",
        },
    )
    assert response.status_code == 201
    body = response.json
    assert body["organization"]["name"] == "Book Circle"
    assert body["organization"]["verified"] is False
    secret = body["api_key"]["secret"]
    assert secret.startswith("kp_") and len(secret) >= 3 + 43  # 256 bits in base64url
    # The secret works as a bearer token for its own organization...
    partner = Caller(app.test_client(), secret)
    own = partner.get(f"/api/v1/organizations/{body['organization']['id']}")
    assert own.status_code == 200
    # ...and is never shown again.
    keys = partner.get(f"/api/v1/organizations/{body['organization']['id']}/keys").json
    assert [key["prefix"] for key in keys] == [secret[:10]]
    assert all("secret" not in key for key in keys)


def test_key_secret_is_stored_only_as_hash(coordinator, kindred):
    response = coordinator.post(
        "/api/v1/organizations", json={"name": "Hash Check", "contact_email": "a@b.example"}
    )
    secret = response.json["api_key"]["secret"]
    with kindred.uow() as uow:
        key = uow.organizations.key(
            response.json["organization"]["id"], response.json["api_key"]["id"]
        )
        assert secret not in (key.secret_hash, key.prefix)
        assert len(key.secret_hash) == 64


def test_duplicate_organization_name_is_409(coordinator, partner):
    response = coordinator.post(
        "/api/v1/organizations", json={"name": "garden friends", "contact_email": "x@y.example"}
    )
    assert response.status_code == 409
    assert response.json["errors"] == {"name": ["already taken"]}


def test_create_organization_validation(coordinator):
    response = coordinator.post(
        "/api/v1/organizations",
        json={
            "name": "A",
            "contact_email": "not-an-email",
            "website": "ftp://x.example",
            "colour": 1,
        },
    )
    assert response.status_code == 422
    errors = response.json["errors"]
    assert set(errors) == {"name", "contact_email", "website", "colour"}
    assert errors["colour"] == ["Unknown field."]
    assert response.json["code"] == 422 and response.json["status"]
    assert "name" in response.json["message"]


def test_only_coordinators_create_organizations(anonymous, partner, member):
    body = {"name": "Sneaky", "contact_email": "s@s.example"}
    assert anonymous.post("/api/v1/organizations", json=body).status_code == 401
    assert partner.post("/api/v1/organizations", json=body).status_code == 403
    assert member.post("/api/v1/organizations", json=body).status_code == 403


def test_partner_cannot_see_another_organization(partner, other_partner):
    response = partner.get(f"/api/v1/organizations/{other_partner.organization_id}")
    assert response.status_code == 404
    keys = partner.get(f"/api/v1/organizations/{other_partner.organization_id}/keys")
    assert keys.status_code == 404
    issue = partner.post(f"/api/v1/organizations/{other_partner.organization_id}/keys", json={})
    assert issue.status_code == 404


def test_issue_second_key_and_revoke_first(partner, app):
    org = partner.organization_id
    second = partner.post(f"/api/v1/organizations/{org}/keys", json={"label": "website"})
    assert second.status_code == 201
    new_caller = Caller(app.test_client(), second.json["secret"])
    keys = new_caller.get(f"/api/v1/organizations/{org}/keys").json
    assert len(keys) == 2
    first_id = min(key["id"] for key in keys)
    assert new_caller.delete(f"/api/v1/organizations/{org}/keys/{first_id}").status_code == 204
    # The revoked key stops working at once; the new one still works.
    assert partner.get(f"/api/v1/organizations/{org}").status_code == 401
    assert new_caller.get(f"/api/v1/organizations/{org}").status_code == 200
    keys = new_caller.get(f"/api/v1/organizations/{org}/keys").json
    revoked = next(key for key in keys if key["id"] == first_id)
    assert revoked["revoked_at"] is not None
    assert next(key for key in keys if key["id"] != first_id)["last_used_at"] is not None


def test_revoke_unknown_key_is_404(partner, other_partner):
    org = partner.organization_id
    assert partner.delete(f"/api/v1/organizations/{org}/keys/99999").status_code == 404
    other_keys = other_partner.get(f"/api/v1/organizations/{other_partner.organization_id}/keys")
    other_key_id = other_keys.json[0]["id"]
    # Another organization's key id under my organization's path: not found, not revoked.
    assert partner.delete(f"/api/v1/organizations/{org}/keys/{other_key_id}").status_code == 404
    assert (
        other_partner.get(f"/api/v1/organizations/{other_partner.organization_id}").status_code
        == 200
    )


def test_coordinator_verifies_but_partner_cannot_verify_itself(coordinator, partner):
    org = partner.organization_id
    refused = partner.patch(f"/api/v1/organizations/{org}", json={"verified": True})
    assert refused.status_code == 403
    renamed = partner.patch(f"/api/v1/organizations/{org}", json={"website": "https://g.example"})
    assert renamed.status_code == 200 and renamed.json["verified"] is False
    verified = coordinator.patch(f"/api/v1/organizations/{org}", json={"verified": True})
    assert verified.status_code == 200 and verified.json["verified"] is True


def test_coordinator_lists_organizations(coordinator, partner, other_partner, member):
    names = [org["name"] for org in coordinator.get("/api/v1/organizations").json]
    assert names == ["Garden Friends", "Other Club"]
    assert partner.get("/api/v1/organizations").status_code == 403
    assert member.get("/api/v1/organizations").status_code == 403


def test_partner_tokens_from_any_role_table_do_not_cross(coordinator, app):
    partner = make_partner(coordinator, app, "Cross Check")
    forged = Caller(app.test_client(), "kc_" + partner.token[3:])
    assert forged.get("/api/v1/organizations").status_code == 401
