"""Web page tests: a browser-like client (cookies, CSRF tokens from the forms) per role."""

from __future__ import annotations

import re

import pytest

from service.app import create_app
from service.domain.credentials import Principal, Role
from service.services.coordinators import create_coordinator
from service.services.organizations import create_organization
from workers import context

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
COORDINATOR_EMAIL, COORDINATOR_PASSWORD = "coord@example.org", "a long password"


class PageClient:
    """Flask's test client over https (session cookies are Secure and __Host- prefixed), sending
    back the CSRF token of the last page it read, as a browser posting that page's form would."""

    def __init__(self, app):
        self.client = app.test_client()
        self.csrf_token = None

    def get(self, path, **kwargs):
        response = self.client.get(path, base_url="https://localhost", **kwargs)
        found = CSRF_FIELD.search(response.get_data(as_text=True))
        if found:
            self.csrf_token = found.group(1)
        return response

    def post(self, path, data=None, csrf=True, **kwargs):
        form = dict(data or {})
        if csrf:
            if self.csrf_token is None:
                self.get("/")
            form.setdefault("csrf_token", self.csrf_token)
        response = self.client.post(path, data=form, base_url="https://localhost", **kwargs)
        found = CSRF_FIELD.search(response.get_data(as_text=True))
        if found:
            self.csrf_token = found.group(1)
        return response


def text_of(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def jobs_use_this_service(kindred):
    """Jobs run by `run_worker` in this process use the test's database and Redis."""
    context.use(kindred)


@pytest.fixture
def app(kindred):
    app = create_app(kindred=kindred)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def visitor(app) -> PageClient:
    return PageClient(app)


@pytest.fixture
def coordinator_account(kindred):
    return create_coordinator(kindred.uow(), COORDINATOR_EMAIL, "Coord", COORDINATOR_PASSWORD)


@pytest.fixture
def coordinator_page(app, coordinator_account) -> PageClient:
    client = PageClient(app)
    client.get("/dashboard/login")
    response = client.post(
        "/dashboard/login", {"email": COORDINATOR_EMAIL, "password": COORDINATOR_PASSWORD}
    )
    assert response.status_code == 302, text_of(response)
    return client


@pytest.fixture
def organization(kindred, coordinator_account):
    """An organization and its first API key's secret."""
    caller = Principal(Role.COORDINATOR, coordinator_account.coordinator.id)
    organization, new_key = create_organization(
        kindred.uow(),
        caller,
        {"name": "Garden Friends", "contact_email": "team@garden.example", "verified": False},
    )
    return organization, new_key.secret


@pytest.fixture
def partner_page(app, organization) -> PageClient:
    client = PageClient(app)
    client.get("/partner/sign-in")
    response = client.post("/partner/sign-in", {"api_key": organization[1]})
    assert response.status_code == 302, text_of(response)
    return client
