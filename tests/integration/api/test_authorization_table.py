"""Every API route, called by every kind of wrong caller: 401 without credentials, 403 for the
wrong role, 404 for somebody else's object. The table must name every route the app serves, so a
new route cannot be added without deciding who may call it."""

from __future__ import annotations

import re

import pytest

from tests.integration.api.conftest import listing_body

# (method, path template) -> roles allowed; "anyone" routes need no token.
ROUTES = {
    ("POST", "/api/v1/organizations"): {"coordinator"},
    ("GET", "/api/v1/organizations"): {"coordinator"},
    ("GET", "/api/v1/organizations/{organization_id}"): {"coordinator", "partner"},
    ("PATCH", "/api/v1/organizations/{organization_id}"): {"coordinator", "partner"},
    ("GET", "/api/v1/organizations/{organization_id}/keys"): {"coordinator", "partner"},
    ("POST", "/api/v1/organizations/{organization_id}/keys"): {"coordinator", "partner"},
    ("DELETE", "/api/v1/organizations/{organization_id}/keys/{key_id}"): {"coordinator", "partner"},
    ("GET", "/api/v1/organizations/{organization_id}/webhooks"): {"coordinator", "partner"},
    ("POST", "/api/v1/organizations/{organization_id}/webhooks"): {"coordinator", "partner"},
    ("DELETE", "/api/v1/organizations/{organization_id}/webhooks/{webhook_id}"): {
        "coordinator",
        "partner",
    },
    ("GET", "/api/v1/listings"): {"coordinator", "partner", "member"},
    ("POST", "/api/v1/listings"): {"partner"},
    ("GET", "/api/v1/listings/{listing_id}"): {"coordinator", "partner", "member"},
    ("PATCH", "/api/v1/listings/{listing_id}"): {"partner"},
    ("DELETE", "/api/v1/listings/{listing_id}"): {"partner"},
    ("POST", "/api/v1/listings/{listing_id}/review"): {"coordinator"},
    ("GET", "/api/v1/listings/{listing_id}/interest"): {"coordinator", "partner"},
    ("POST", "/api/v1/members"): {"anyone"},
    ("GET", "/api/v1/members/me"): {"member"},
    ("PATCH", "/api/v1/members/me"): {"member"},
    ("DELETE", "/api/v1/members/me"): {"member"},
    ("GET", "/api/v1/members/me/export"): {"member"},
    ("PUT", "/api/v1/members/me/consents"): {"member"},
    ("POST", "/api/v1/members/me/match-requests"): {"member"},
    ("GET", "/api/v1/match-requests/{request_id}"): {"member"},
    ("GET", "/api/v1/members/me/suggestions"): {"member"},
    ("GET", "/api/v1/members/me/introductions"): {"member"},
    ("POST", "/api/v1/suggestions/{suggestion_id}/response"): {"member"},
    ("GET", "/api/v1/members/me/notifications"): {"member"},
    ("POST", "/api/v1/members/me/notifications/{notification_id}/read"): {"member"},
}
# A valid body for each route that takes one, so only the caller decides the answer.
BODIES = {
    "/api/v1/organizations": {"name": "New Org", "contact_email": "n@org.example"},
    "/api/v1/organizations/{organization_id}": {"website": "https://org.example"},
    "/api/v1/listings": listing_body(),
    "/api/v1/listings/{listing_id}": {"capacity": 9},
    "/api/v1/listings/{listing_id}/review": {"decision": "approve"},
    "/api/v1/members/me": {"area": "Easton"},
    "/api/v1/members/me/consents": {"matching": True, "peer_introductions": True},
    "/api/v1/suggestions/{suggestion_id}/response": {"answer": "yes"},
    "/api/v1/organizations/{organization_id}/webhooks": {"url": "https://93.184.215.14/hook"},
}


def served_api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<[^:>]+:(\w+)>", r"{\1}", rule.rule)
            routes |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_the_table_names_every_route(app):
    assert served_api_routes(app) == set(ROUTES)


@pytest.fixture
def world(coordinator, partner, other_partner, member, app):
    """An organization with a key and a pending listing, owned by `partner`."""
    listing = partner.post("/api/v1/listings", json=listing_body()).json
    keys = partner.get(f"/api/v1/organizations/{partner.organization_id}/keys").json
    ids = {
        "organization_id": partner.organization_id,
        "key_id": keys[0]["id"],
        "listing_id": listing["id"],
        # Members' own objects: the role is refused before any lookup, so any id will do.
        "request_id": 1,
        "suggestion_id": 1,
        "notification_id": 1,
        "webhook_id": 1,
    }
    callers = {"coordinator": coordinator, "partner": partner, "member": member}
    return ids, callers, other_partner


def call(caller, method, template, ids):
    body = BODIES.get(template, {}) if method in ("POST", "PATCH", "PUT") else None
    return getattr(caller, method.lower())(template.format(**ids), json=body)


@pytest.mark.parametrize(("method", "template"), sorted(ROUTES))
def test_wrong_callers_are_refused(world, anonymous, method, template):
    ids, callers, _ = world
    allowed = ROUTES[(method, template)]
    if "anyone" in allowed:
        return
    assert call(anonymous, method, template, ids).status_code == 401
    for role, caller in callers.items():
        if role not in allowed:
            response = call(caller, method, template, ids)
            assert response.status_code == 403, (role, response.json)


OWNED_ROUTES = sorted(
    (method, template)
    for (method, template), roles in ROUTES.items()
    if "partner" in roles and "{" in template
)


@pytest.mark.parametrize(("method", "template"), OWNED_ROUTES)
def test_another_partner_gets_404_for_what_it_does_not_own(world, method, template):
    ids, _, other_partner = world
    response = call(other_partner, method, template, ids)
    assert response.status_code == 404, response.json


def test_members_do_not_see_listings_that_are_not_live(world):
    ids, callers, _ = world
    response = callers["member"].get(f"/api/v1/listings/{ids['listing_id']}")
    assert response.status_code == 404
