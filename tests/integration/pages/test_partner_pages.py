"""The partner pages: listings posted, edited and moved between statuses through forms, their
interest and shared contacts, API keys and webhooks, each checked against the stored rows."""

from __future__ import annotations

import re
import socket
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from service.adapters.orm import ApiKey, Listing, SessionAttendance, WebhookEndpoint
from service.api.listings import ListingWriteSchema, json_safe_schedule
from service.domain.credentials import Principal, Role
from service.domain.vocabulary import Answer
from service.services import listings, matching, members, organizations, webhooks
from tests.integration.api.conftest import listing_body
from tests.integration.pages.conftest import PageClient, text_of
from tests.support import group_suggestion

LIST_PATH = "/partner"
NEW_PATH = "/partner/listings/new"


def listing_form(**overrides) -> dict:
    """What a partner fills in: a weekly meeting, one dated session in London summer time."""
    form = {
        "kind": "club",
        "direction": "receive",
        "title": "Gentle garden club",
        "description": "We grow vegetables together.\r\nAll welcome.",
        "interests": "Gardening, food",
        "causes": "environment",
        "is_virtual": "no",
        "area": "Easton",
        "lat": "51.455",
        "lon": "-2.59",
        "timezone": "Europe/London",
        "slot-0-day": "sat",
        "slot-0-start": "10:00",
        "slot-0-minutes": "90",
        "slot-1-day": "",
        "slot-1-start": "",
        "slot-1-minutes": "",
        "session-0-starts_at": "2026-07-04T14:00",
        "session-0-minutes": "120",
        "session-1-starts_at": "",
        "session-1-minutes": "",
        "group_size": "small",
        "structure": "structured",
        "pace": "low_key",
        "accessibility": ["step_free", "quiet_space"],
        "capacity": "12",
        "languages": "en, cy",
        "save_as": "submit",
    }
    form.update(overrides)
    return form


def stored_listings(kindred) -> list[Listing]:
    with kindred.uow() as uow:
        return list(uow.session.scalars(sa.select(Listing).order_by(Listing.id)))


def stored_listing(kindred, listing_id: int) -> Listing:
    with kindred.uow() as uow:
        return uow.listings.get(listing_id)


def post_listing(page: PageClient, **overrides) -> int:
    page.get(NEW_PATH)
    response = page.post(NEW_PATH, listing_form(**overrides))
    assert response.status_code == 303, text_of(response)
    assert response.headers["Location"].endswith(LIST_PATH)
    return max(item.id for item in stored_listings(page.kindred))


@pytest.fixture
def partner(partner_page, kindred) -> PageClient:
    partner_page.kindred = kindred
    return partner_page


@pytest.fixture
def coordinator(coordinator_account) -> Principal:
    return Principal(Role.COORDINATOR, coordinator_account.coordinator.id)


def approve(kindred, coordinator: Principal, listing_id: int) -> None:
    listings.review_listing(kindred.uow(), coordinator, listing_id, approve=True, reason=None)


def error_next_to(page: str, field: str) -> str:
    """The message shown with a field: its error paragraph, tied to it by aria-describedby."""
    found = re.search(rf'<p class="field-error" id="{re.escape(field)}-error">([^<]*)</p>', page)
    assert found, f"no message next to {field}"
    assert re.search(rf'aria-describedby="[^"]*{re.escape(field)}-error', page), field
    return found.group(1)


class FormReader(HTMLParser):
    """What a browser would send from one form, and which controls have a label."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.fields: list[tuple[str, str]] = []
        self.control_ids: list[str] = []
        self.label_targets: set[str] = set()
        self._select = self._textarea = None
        self._first_option = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if tag == "label":
            self.label_targets.add(a.get("for"))
        if not self.inside:
            return
        if tag == "input" and a.get("type") != "hidden":
            self.control_ids.append(a.get("id"))
        if tag == "input":
            self._input(a)
        elif tag == "select":
            self.control_ids.append(a.get("id"))
            self._select, self._first_option = a["name"], None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self.fields.append((self._select, a.get("value", "")))
                self._first_option = False
        elif tag == "textarea":
            self.control_ids.append(a.get("id"))
            self._textarea = [a["name"], ""]

    def _input(self, a):
        kind = a.get("type", "text")
        if kind in ("checkbox", "radio"):
            if "checked" in a:
                self.fields.append((a["name"], a.get("value", "on")))
        elif kind != "submit":
            self.fields.append((a["name"], a.get("value", "")))

    def handle_data(self, data):
        if self._textarea:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            if self._first_option not in (None, False):
                self.fields.append((self._select, self._first_option))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append(tuple(self._textarea))
            self._textarea = None


def read_form(page: str, form_id: str = "listing-form") -> FormReader:
    reader = FormReader(form_id)
    reader.feed(page)
    return reader


def as_post_data(fields: list[tuple[str, str]]) -> dict:
    data: dict = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    return data


def columns(listing: Listing) -> dict:
    names = [c.key for c in sa.inspect(Listing).column_attrs if c.key != "updated_at"]
    return {
        **{name: getattr(listing, name) for name in names},
        "interests": listing.interests,
        "causes": listing.causes,
    }


# Posting and editing ------------------------------------------------------------------------


def test_a_listing_posted_through_the_form_waits_for_review(partner, kindred):
    form_page = text_of(partner.get(NEW_PATH))
    assert form_page.count("<h1") == 1 and "Submit for review" in form_page

    listing_id = post_listing(partner)

    listing = stored_listing(kindred, listing_id)
    assert listing.status.value == "pending_review"
    assert listing.interests == ["food", "gardening"] and listing.causes == ["environment"]
    assert listing.description == "We grow vegetables together.\nAll welcome."
    assert listing.timezone == "Europe/London"
    assert listing.weekly_slots == [{"day": "sat", "start": "10:00", "minutes": 90}]
    # 14:00 in London in July is 13:00 UTC.
    assert listing.sessions == [{"starts_at": "2026-07-04T13:00:00+00:00", "minutes": 120}]
    assert listing.accessibility == ["step_free", "quiet_space"]
    assert (listing.capacity, listing.languages, listing.lat) == (12, ["en", "cy"], 51.455)
    home = text_of(partner.get(LIST_PATH))
    assert "Gentle garden club" in home and "Waiting for review" in home
    assert "is waiting for a kindred coordinator" in home  # the flash after posting


def test_a_listing_can_be_saved_as_a_draft(partner, kindred):
    listing_id = post_listing(partner, save_as="draft")
    assert stored_listing(kindred, listing_id).status.value == "draft"
    home = text_of(partner.get(LIST_PATH))
    assert '<span class="badge ">Draft</span>' in home
    assert 'aria-label="Submit for review Gentle garden club"' in home


def test_an_invalid_form_is_shown_again_with_messages_and_nothing_is_saved(partner, kindred):
    partner.get(NEW_PATH)
    response = partner.post(
        NEW_PATH,
        listing_form(title="", capacity="many", **{"slot-1-minutes": "45", "lat": "north"}),
    )
    assert response.status_code == 422
    page = text_of(response)
    assert error_next_to(page, "title") == "Missing data for required field."
    assert error_next_to(page, "capacity") == "Not a valid integer."
    assert error_next_to(page, "lat") == "Not a valid number."
    # A half-filled second weekly row: the message is on that row, not the first.
    assert error_next_to(page, "slot-1-day") == "Missing data for required field."
    assert 'id="slot-0-day-error"' not in page
    assert 'href="#slot-1-day"' in page  # the summary links to the field
    # What was typed is kept.
    assert 'value="Gardening, food"' in page and 'value="many"' in page
    assert "We grow vegetables together." in page
    assert stored_listings(kindred) == []


def test_an_in_person_listing_without_a_place_is_refused(partner, kindred):
    partner.get(NEW_PATH)
    response = partner.post(NEW_PATH, listing_form(area="", lat="", lon=""))
    assert response.status_code == 422
    page = text_of(response)
    for field in ("area", "lat", "lon"):
        assert error_next_to(page, field) == "required for an in-person listing"
    assert "an in-person listing needs a place" in page
    assert stored_listings(kindred) == []
    # Online, no place is needed.
    listing_id = post_listing(partner, area="", lat="", lon="", is_virtual="yes")
    assert stored_listing(kindred, listing_id).is_virtual is True


def test_the_edit_form_is_filled_in_and_keeps_what_was_not_changed(partner, kindred):
    listing_id = post_listing(partner, save_as="draft")
    before = columns(stored_listing(kindred, listing_id))
    edit_path = f"/partner/listings/{listing_id}/edit"

    page = text_of(partner.get(edit_path))
    form = read_form(page)
    assert set(form.control_ids) <= form.label_targets  # every control has a label
    assert ("session-0-starts_at", "2026-07-04T14:00") in form.fields  # shown in London time
    assert ("slot-0-day", "sat") in form.fields
    data = as_post_data(form.fields)
    data["title"] = ["Gentle garden club, Saturdays"]
    response = partner.post(edit_path, data)
    assert response.status_code == 303, text_of(response)

    after = columns(stored_listing(kindred, listing_id))
    assert after.pop("title") == "Gentle garden club, Saturdays"
    before.pop("title")
    assert after == before


def test_an_edit_can_remove_optional_fields_but_not_required_ones(partner, kindred):
    listing_id = post_listing(partner, save_as="draft")
    edit_path = f"/partner/listings/{listing_id}/edit"
    partner.get(edit_path)
    emptied = partner.post(edit_path, listing_form(description="", pace=""))
    assert emptied.status_code == 422
    assert error_next_to(text_of(emptied), "description") == "Missing data for required field."
    assert stored_listing(kindred, listing_id).description.startswith("We grow")

    cleared = listing_form(capacity="", causes="", **{"session-0-starts_at": ""})
    cleared["session-0-minutes"] = ""
    assert partner.post(edit_path, cleared).status_code == 303
    listing = stored_listing(kindred, listing_id)
    assert (listing.capacity, listing.causes, listing.sessions) == (None, [], [])


def test_editing_a_live_listing_of_an_unverified_partner_sends_it_back_to_review(
    partner, kindred, coordinator
):
    listing_id = post_listing(partner)
    approve(kindred, coordinator, listing_id)
    edit_path = f"/partner/listings/{listing_id}/edit"
    partner.get(edit_path)
    assert partner.post(edit_path, listing_form(capacity="20")).status_code == 303
    assert stored_listing(kindred, listing_id).status.value == "active"  # capacity only
    partner.post(edit_path, listing_form(capacity="20", title="Garden club, new text"))
    assert stored_listing(kindred, listing_id).status.value == "pending_review"


# Status changes -----------------------------------------------------------------------------


def change_status(page: PageClient, listing_id: int, action: str):
    page.get(LIST_PATH)
    return page.post(f"/partner/listings/{listing_id}/status", {"action": action})


def test_pause_resume_and_close_through_the_buttons(partner, kindred, coordinator):
    listing_id = post_listing(partner, save_as="draft")
    assert change_status(partner, listing_id, "submit").status_code == 303
    assert stored_listing(kindred, listing_id).status.value == "pending_review"
    approve(kindred, coordinator, listing_id)
    assert 'aria-label="Pause Gentle garden club"' in text_of(partner.get(LIST_PATH))

    for action, expected in (("pause", "paused"), ("resume", "active"), ("close", "closed")):
        response = change_status(partner, listing_id, action)
        assert response.status_code == 303 and response.headers["Location"].endswith(LIST_PATH)
        assert stored_listing(kindred, listing_id).status.value == expected
    home = text_of(partner.get(LIST_PATH))
    assert "is closed" in home and "Closed" in home
    assert f"/partner/listings/{listing_id}/edit" not in home  # closed listings are final


def test_an_invalid_transition_changes_nothing_and_says_why(partner, kindred):
    listing_id = post_listing(partner)  # waiting for review: it cannot be paused
    response = change_status(partner, listing_id, "pause")
    assert response.status_code == 303
    assert stored_listing(kindred, listing_id).status.value == "pending_review"
    assert "a listing cannot go from pending_review to paused" in text_of(partner.get(LIST_PATH))
    assert change_status(partner, listing_id, "approve").status_code == 400


# Interest -----------------------------------------------------------------------------------


def a_member_answers(kindred, listing_id: int, name: str, answer: Answer, share: bool) -> None:
    """A real member answering a group suggestion of the listing (the row stands in for what
    the matcher would have written)."""
    member = members.sign_up(
        kindred.uow(),
        {"email": f"{name.lower()}@example.org", "display_name": name, "interests": ["food"]},
    ).member
    with kindred.uow() as uow:
        suggestion = group_suggestion(member.id, listing_id, "2026-W27")
        uow.session.add(suggestion)
        uow.commit()
        suggestion_id = suggestion.id
    caller = Principal(Role.MEMBER, member.id)
    matching.answer_suggestion(kindred.uow(), caller, suggestion_id, answer, share_contact=share)


def test_the_interest_page_lists_only_members_who_shared_their_contact(
    partner, kindred, coordinator
):
    listing_id = post_listing(partner)
    approve(kindred, coordinator, listing_id)
    a_member_answers(kindred, listing_id, "Ann", Answer.YES, share=True)
    a_member_answers(kindred, listing_id, "Bob", Answer.YES, share=False)
    a_member_answers(kindred, listing_id, "Cy", Answer.NO, share=False)

    page = text_of(partner.get(f"/partner/listings/{listing_id}"))
    assert "Sat 04 Jul 2026 at 14:00 for 120 minutes" in page  # in the listing's time zone
    assert "ann@example.org" in page and ">Ann<" in page
    assert "bob@example.org" not in page and "Bob" not in page and "cy@example.org" not in page
    stats = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", page))
    assert (stats["Suggested to"], stats["Said yes"], stats["Said no"]) == ("3", "2", "1")
    home = text_of(partner.get(LIST_PATH))
    assert '<td class="number">3</td>\n      <td class="number">2</td>' in home


def other_organizations_listing(kindred, coordinator) -> int:
    other, _ = organizations.create_organization(
        kindred.uow(), coordinator, {"name": "Other Club", "contact_email": "o@other.example"}
    )
    data = json_safe_schedule(ListingWriteSchema().load(listing_body(title="Their club")))
    return listings.create_listing(kindred.uow(), Principal(Role.PARTNER, other.id), data).id


def test_another_organizations_listing_is_not_found_on_every_listing_page(
    partner, kindred, coordinator
):
    theirs = other_organizations_listing(kindred, coordinator)
    partner.get(LIST_PATH)
    base = f"/partner/listings/{theirs}"
    assert partner.get(base).status_code == 404
    assert partner.get(f"{base}/edit").status_code == 404
    assert partner.post(f"{base}/edit", listing_form(title="Mine now")).status_code == 404
    for action in ("submit", "pause", "resume", "close"):
        assert partner.post(f"{base}/status", {"action": action}).status_code == 404
    listing = stored_listing(kindred, theirs)
    assert (listing.title, listing.status.value) == ("Their club", "pending_review")
    assert "Their club" not in text_of(partner.get(LIST_PATH))


# API keys -----------------------------------------------------------------------------------

# The one-time secret sits in its own box; the table shows only each key's first characters.
SECRET = re.compile(r'<div class="secret".*?<code>(kp_[^<]+)</code>', re.DOTALL)


def api_status(app, secret: str) -> int:
    headers = {"Authorization": f"Bearer {secret}"}
    return app.test_client().get("/api/v1/listings", headers=headers).status_code


def key_id_with_label(kindred, label: str) -> int:
    with kindred.uow() as uow:
        return uow.session.scalar(sa.select(ApiKey.id).where(ApiKey.label == label))


def test_a_new_key_is_shown_once_and_works_on_the_api(partner, kindred, app):
    partner.get("/partner/keys")
    response = partner.post("/partner/keys", {"label": "website"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text_of(response)
    (secret,) = SECRET.findall(page)
    assert "Copy it now" in page
    assert api_status(app, secret) == 200
    again = text_of(partner.get("/partner/keys"))
    assert secret not in again and "website" in again

    key_id = key_id_with_label(kindred, "website")
    revoked = partner.post(f"/partner/keys/{key_id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["Location"].endswith("/partner/keys")
    assert api_status(app, secret) == 401
    assert "Revoked" in text_of(partner.get("/partner/keys"))  # still signed in


def test_revoking_the_key_this_session_signed_in_with_signs_out(
    partner, kindred, app, organization
):
    _, first_secret = organization
    key_id = key_id_with_label(kindred, "first key")
    assert "You signed in with this key" in text_of(partner.get("/partner/keys"))
    response = partner.post(f"/partner/keys/{key_id}/revoke")
    assert response.headers["Location"].endswith("/partner/sign-in")
    assert "you are signed out" in text_of(partner.get("/partner/sign-in"))
    assert partner.get(LIST_PATH).status_code == 302
    assert api_status(app, first_secret) == 401


def test_a_key_label_is_checked_like_the_api_does(partner, kindred):
    partner.get("/partner/keys")
    response = partner.post("/partner/keys", {"label": "x" * 81})
    assert response.status_code == 422
    assert error_next_to(text_of(response), "label") == "Length must be between 1 and 80."
    with kindred.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count(ApiKey.id))) == 1


# Webhooks -----------------------------------------------------------------------------------

PUBLIC_HOST = "hooks.example.com"


@pytest.fixture
def public_dns(monkeypatch):
    """The test machine has no DNS: this name resolves to a public address, as it would online.
    Every other name goes to the real resolver, so the SSRF check itself runs unchanged."""
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == PUBLIC_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def stored_endpoints(kindred) -> list[WebhookEndpoint]:
    with kindred.uow() as uow:
        return list(uow.session.scalars(sa.select(WebhookEndpoint)))


def test_a_webhook_is_registered_with_its_secret_shown_once_then_removed(
    partner, kindred, app, public_dns
):
    assert app.extensions["kindred"].settings.webhook_allow_private is False
    url = f"https://{PUBLIC_HOST}/k"
    page = text_of(partner.get("/partner/webhooks"))
    assert "listing.interest" in page and "listing.reviewed" in page
    assert "webhook-signature" in page

    response = partner.post("/partner/webhooks", {"url": url})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    (endpoint,) = stored_endpoints(kindred)
    assert endpoint.url == url and endpoint.secret in text_of(response)
    listed = text_of(partner.get("/partner/webhooks"))
    assert url in listed and endpoint.secret not in listed

    removed = partner.post(f"/partner/webhooks/{endpoint.id}/remove")
    assert removed.status_code == 303
    assert stored_endpoints(kindred) == []
    assert url not in text_of(partner.get("/partner/webhooks"))


@pytest.mark.parametrize(
    "url, message",
    [
        ("https://10.1.2.3/hook", "resolves to a private"),
        ("http://hooks.example.com/k", "must be an https:// URL"),
        ("", "Missing data for required field."),
    ],
)
def test_webhook_addresses_kindred_cannot_send_to_are_refused(partner, kindred, url, message):
    partner.get("/partner/webhooks")
    response = partner.post("/partner/webhooks", {"url": url})
    assert response.status_code == 422
    assert message in error_next_to(text_of(response), "url")
    assert stored_endpoints(kindred) == []


def test_another_organizations_webhook_cannot_be_removed(partner, kindred, coordinator, public_dns):
    other, _ = organizations.create_organization(
        kindred.uow(), coordinator, {"name": "Other Club", "contact_email": "o@other.example"}
    )
    created = webhooks.register(
        kindred.uow(), coordinator, other.id, f"https://{PUBLIC_HOST}/theirs", False
    )
    partner.get("/partner/webhooks")
    assert partner.post(f"/partner/webhooks/{created.endpoint.id}/remove").status_code == 404
    assert len(stored_endpoints(kindred)) == 1


# The organization ---------------------------------------------------------------------------


def test_the_organization_details_can_be_changed_but_not_emptied(partner, kindred, organization):
    path = "/partner/organization"
    partner.get(path)
    emptied = partner.post(path, {"name": "", "contact_email": "new@garden.example"})
    assert emptied.status_code == 422
    assert error_next_to(text_of(emptied), "name") == "Missing data for required field."
    saved = partner.post(
        path,
        {
            "name": "Garden Friends",
            "contact_email": "New@Garden.example",
            "website": "https://garden.example",
        },
    )
    assert saved.status_code == 303
    with kindred.uow() as uow:
        stored = uow.organizations.get(organization[0].id)
    assert (stored.contact_email, stored.website, stored.verified) == (
        "new@garden.example",
        "https://garden.example",
        False,
    )


# Who may open these pages, and how they are built ------------------------------------------

GET_PAGES = [
    "/partner",
    "/partner/listings/new",
    "/partner/listings/1",
    "/partner/listings/1/edit",
    "/partner/keys",
    "/partner/webhooks",
    "/partner/organization",
]
POST_PAGES = [
    "/partner/listings/new",
    "/partner/listings/1/edit",
    "/partner/listings/1/status",
    "/partner/keys",
    "/partner/keys/1/revoke",
    "/partner/webhooks",
    "/partner/webhooks/1/remove",
    "/partner/organization",
]


def test_signed_out_visitors_are_sent_to_partner_sign_in(visitor):
    visitor.get("/partner/sign-in")  # a CSRF token, so that POSTs reach the sign-in check
    for path in GET_PAGES:
        response = visitor.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/partner/sign-in?next="), path
    for path in POST_PAGES:
        response = visitor.post(path, {"action": "close", "label": "x"})
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/partner/sign-in"), path


def test_a_coordinator_is_refused_every_partner_page(coordinator_page):
    for path in GET_PAGES:
        assert coordinator_page.get(path).status_code == 403, path
    coordinator_page.get("/dashboard")
    for path in POST_PAGES:
        assert coordinator_page.post(path, {"action": "close"}).status_code == 403, path


def test_every_partner_page_has_one_heading_a_marked_nav_and_no_inline_code(partner, kindred):
    listing_id = post_listing(partner)
    current = {
        "/partner": "Your listings",
        "/partner/listings/new": "Post a listing",
        "/partner/keys": "API keys",
        "/partner/webhooks": "Webhooks",
        "/partner/organization": "Organization",
        f"/partner/listings/{listing_id}": "Your listings",
        f"/partner/listings/{listing_id}/edit": "Your listings",
    }
    for path, nav_item in current.items():
        response = partner.get(path)
        page = text_of(response)
        assert response.status_code == 200, path
        assert page.count("<h1") == 1, path
        assert re.search(rf'aria-current="page">{nav_item}</a>', page), path
        assert page.count('aria-current="page"') == 1, path
        assert "<script" not in page and " style=" not in page, path
        assert not re.search(r"\son[a-z]+=", page), path


def test_a_partner_checks_in_a_member_from_the_interest_page(partner, kindred, coordinator):
    listing_id = post_listing(partner)
    approve(kindred, coordinator, listing_id)
    a_member_answers(kindred, listing_id, "Ann", Answer.YES, share=True)
    page = text_of(partner.get(f"/partner/listings/{listing_id}"))
    assert "Check in Ann" in page
    contact = re.search(r'name="contact_id" value="(\d+)"', page)[1]

    checked = partner.post(f"/partner/listings/{listing_id}/check-ins", {"contact_id": contact})
    assert checked.status_code == 302, text_of(checked)
    assert "Checked in for" in text_of(partner.get(checked.headers["Location"]))
    with kindred.uow() as uow:
        (visit,) = uow.session.scalars(sa.select(SessionAttendance)).all()
    assert (visit.listing_id, visit.recorded_by) == (listing_id, "partner")

    refused = partner.post(
        f"/partner/listings/{listing_id}/check-ins",
        {"contact_id": contact, "session_on": "2999-01-01"},
    )
    assert refused.status_code == 422 and "is in the future" in text_of(refused)
    unknown = partner.post(f"/partner/listings/{listing_id}/check-ins", {"contact_id": "999999"})
    assert unknown.status_code == 404
