"""The authorization matrix (OWASP API1 object level, API5 function level, API3 property level).

Every route the app serves (`app.url_map`: the JSON API and the pages, every method but HEAD and
OPTIONS, static files aside) is called by six callers: nobody, member A, member B, partner A,
partner B and a coordinator. Ids in the paths always name member A's or partner A's objects, so
for each call the matrix knows the one right answer:

- allowed: the route's own success status (a redirect must not be to a sign-in page);
- signed out: 401 from the API, a redirect to the role's sign-in page from a page;
- the wrong role: 403;
- the right role but somebody else's object (member B, partner B): 404, never the object.

Every answer (but the coordinator's) is then searched for what its caller may not see:
- member A's private profile fields, by distinctive values (email, the free-text interests, the
  exact place, the travel distance, the time zone, the quiet hours), and in JSON by the keys only
  a member's own profile has (comfort, availability, consents, rhythm...);
- member A's name, except by member B: A and B were suggested to each other and introduced (A
  shared no email). A said yes to partner A's listing without sharing a contact;
- the coordinator's review note on partner A's listing, and in a member's JSON any review field.
What sharing a contact or an email shows, and only that, is checked with members of their own at
the end.

A route the matrix does not decide fails `test_the_matrix_decides_every_route`.

The world is built once per database: calls that use something up (erasing, revoking, closing,
answering, reviewing) get fresh objects or a stand-in caller of the same kind, so the order of
the checks never matters.
"""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from service.adapters.orm import FollowUp, Introduction, Notification, Suggestion
from service.api.listings import ListingWriteSchema, json_safe_schedule
from service.app import create_app
from service.bootstrap import bootstrap
from service.config import Settings
from service.domain.credentials import Principal, Role
from service.domain.vocabulary import Answer, SuggestionKind
from service.services import (
    calendar_feed,
    introductions,
    listings,
    matching,
    organizations,
    sign_in_links,
    webhooks,
)
from service.services.coordinators import create_coordinator
from service.services.interest import listing_interest
from tests.conftest import truncate_all
from tests.integration.api.conftest import Caller, listing_body, run_worker
from tests.integration.pages.conftest import PageClient, text_of
from tests.support import group_suggestion
from workers import context

CALLERS = ("anonymous", "member", "other_member", "partner", "other_partner", "coordinator")
ROLE_OF = {
    "anonymous": None,
    "member": "member",
    "other_member": "member",
    "partner": "partner",
    "other_partner": "partner",
    "coordinator": "coordinator",
}
ANYONE = "anyone"
M, P, C = "member", "partner", "coordinator"
SIGN_IN_PAGE = {M: "/me/sign-in", P: "/partner/sign-in", C: "/dashboard/login"}

COORDINATOR_EMAIL, COORDINATOR_PASSWORD = "coord@example.org", "a long password"
# A public address given as a literal, so registering needs no DNS; nothing is ever delivered
# to it (no worker runs after the world is built).
WEBHOOK_URL = "https://93.184.215.14/hook"

# Member A: every private field has a value found nowhere else, so a leak shows in raw text.
MEMBER_A = {
    "display_name": "Annabel Quist",
    "email": "a.private.mailbox.7q@example.org",
    "interests": ["food", "gardening"],
    "interests_text": "I collect antique thimbles and hum sea shanties at dawn",
    "causes": ["environment"],
    "lat": 51.4523817,
    "lon": -2.5912345,
    "area": "Quillbrook Vale",
    "travel_radius_km": 41.75,
    "availability": ["thu_morning", "tue_evening"],
    "attendance": "either",
    "languages": ["en"],
    "comfort_group_size": "medium",
    "comfort_structure": "open_social",
    "comfort_pace": "high_energy",
    "start_slowly": True,
    "notify_channels": ["in_app"],
    "digest_day": "thu",
    "quiet_hours_start": "21:37",
    "quiet_hours_end": "06:43",
    "timezone": "Pacific/Chatham",
    "max_notifications_per_week": 11,
    "share_email_on_introduction": False,
    "consents": {
        "matching": True,
        "peer_introductions": True,
        "coordinator_contact": True,
        "connection_checkin": True,
    },
}
MEMBER_B = {
    "display_name": "Bertrand Ostrow",
    "email": "bertrand@example.org",
    "interests": ["gardening"],
    "interests_text": "Allotments.",
    "causes": ["environment"],
    "lat": 51.46,
    "lon": -2.58,
    "area": "Easton",
    "travel_radius_km": 5.0,
    "availability": ["sat_morning"],
    "timezone": "Europe/London",
    "consents": {
        "matching": True,
        "peer_introductions": True,
        "coordinator_contact": False,
        "connection_checkin": True,
    },
}


def literal(text: str) -> re.Pattern:
    return re.compile(re.escape(text), re.IGNORECASE)


def number(text: str) -> re.Pattern:
    return re.compile(rf"(?<![\d.]){re.escape(text)}(?!\d)")


def clock(text: str) -> re.Pattern:
    """A time as a JSON string, a form value or a cell, not the minutes of some timestamp."""
    return re.compile(rf"[\">]{re.escape(text)}[\"<]")


# A coordinator's note to partner A about its live listing: between the two of them.
REVIEW_NOTE = "Approved after a call with Ms Pennywhistle about the gate code"


@dataclass(frozen=True)
class Secret:
    """Where a value would show in an answer, and who may see it (coordinators see all)."""

    patterns: tuple[re.Pattern, ...]
    seen_by: frozenset[str]


def secret(*patterns: re.Pattern, seen_by: tuple[str, ...] = ("member",)) -> Secret:
    return Secret(patterns, frozenset(seen_by))


# Member A's private fields (`{value:g}` is how a form shows a number), A's name, which only
# peers A was suggested to and introduced to may see (A shared no contact with partner A), and
# the review note.
SECRETS = {
    "A's display_name": secret(
        literal(MEMBER_A["display_name"]), seen_by=("member", "other_member")
    ),
    "A's email": secret(literal(MEMBER_A["email"])),
    "A's interests_text": secret(literal("antique thimbles"), literal("sea shanties")),
    "A's area": secret(literal(MEMBER_A["area"])),
    "A's lat": secret(number("51.4523817"), number("51.4524")),
    "A's lon": secret(number("2.5912345"), number("2.59123")),
    "A's travel_radius_km": secret(number("41.75")),
    "A's timezone": secret(literal(MEMBER_A["timezone"])),
    "A's quiet hours": secret(clock("21:37"), clock("06:43")),
    "the review note": secret(literal(REVIEW_NOTE), seen_by=("partner",)),
}
# Keys only a member's own profile has: in anyone else's JSON they are a leak.
MEMBER_KEYS = frozenset(
    {
        "interests_text",
        "travel_radius_km",
        "availability",
        "attendance",
        "comfort_group_size",
        "comfort_structure",
        "comfort_pace",
        "start_slowly",
        "notify_channels",
        "digest_day",
        "quiet_hours_start",
        "quiet_hours_end",
        "max_notifications_per_week",
        "share_email_on_introduction",
        "consents",
        "consent_history",
        "connection_checkins",
    }
)
# Keys of a listing's review, between its partner and the coordinators: never in a member's JSON.
REVIEW_KEYS = frozenset({"review_note", "status_changed_by"})


# ------------------------------------------------------------------------------------ the matrix


@dataclass(frozen=True)
class Route:
    """Who may call a route, and how to call it.

    `owner`: the role whose A-objects the path names; B of that role gets 404. `objects`: which
    object each path parameter takes, when not the shared one (see World.object_for).
    `spends_caller`: the call erases its member, so members call it as stand-ins.
    `fresh_session`: the call signs the browser in or out, so it is made on a copy.
    `own_keys`: the JSON is the caller's own (or a new) profile, or the API's description, so
    it names private keys legitimately.
    """

    allowed: frozenset[str]
    owner: str | None = None
    ok: tuple[int, ...] = (200,)
    data: dict | Callable | None = None
    objects: dict[str, str] = field(default_factory=dict)
    spends_caller: bool = False
    fresh_session: bool = False
    own_keys: bool = False


def route(*allowed: str, ok: int | tuple[int, ...] = 200, **options) -> Route:
    return Route(frozenset(allowed), ok=ok if isinstance(ok, tuple) else (ok,), **options)


def public(**options) -> Route:
    return route(ANYONE, **options)


FRESH_LISTING = {"listing_id": "fresh_listing"}
NEW_MEMBER = {"display_name": "Newcomer", "interests": ["chess"]}
LISTING_FORM = {
    "kind": "club",
    "direction": "receive",
    "title": "Evening chess circle",
    "description": "Quiet games for all levels.",
    "interests": "chess",
    "causes": "",
    "is_virtual": "no",
    "area": "Easton",
    "lat": "51.456",
    "lon": "-2.591",
    "timezone": "Europe/London",
    "slot-0-day": "wed",
    "slot-0-start": "19:00",
    "slot-0-minutes": "120",
    "group_size": "small",
    "structure": "structured",
    "pace": "low_key",
    "capacity": "10",
    "languages": "en",
}

ROUTES: dict[tuple[str, str], Route] = {
    # Health and the API's description: for everyone.
    ("GET", "/healthz"): public(),
    ("GET", "/readyz"): public(),
    # Counts and timings by route, queue depths: nothing personal (keep it off the internet at
    # the proxy all the same; see service/observability/web.py).
    ("GET", "/metrics"): public(),
    ("GET", "/openapi.json"): public(own_keys=True),
    ("GET", "/docs"): public(),
    ("GET", "/docs/assets/{filename}"): public(),
    # Organizations, keys, webhooks: coordinators, and each partner for its own.
    ("POST", "/api/v1/organizations"): route(
        C, ok=201, data=lambda w, c: {"name": w.unique("Org"), "contact_email": "n@org.example"}
    ),
    ("GET", "/api/v1/organizations"): route(C),
    ("GET", "/api/v1/organizations/{organization_id}"): route(C, P, owner=P),
    ("PATCH", "/api/v1/organizations/{organization_id}"): route(
        C, P, owner=P, data={"website": "https://garden.example"}
    ),
    ("GET", "/api/v1/organizations/{organization_id}/keys"): route(C, P, owner=P),
    ("POST", "/api/v1/organizations/{organization_id}/keys"): route(
        C, P, owner=P, ok=201, data={"label": "matrix"}
    ),
    ("DELETE", "/api/v1/organizations/{organization_id}/keys/{key_id}"): route(
        C, P, owner=P, ok=204
    ),
    ("GET", "/api/v1/organizations/{organization_id}/webhooks"): route(C, P, owner=P),
    ("POST", "/api/v1/organizations/{organization_id}/webhooks"): route(
        C, P, owner=P, ok=201, data={"url": WEBHOOK_URL}
    ),
    ("DELETE", "/api/v1/organizations/{organization_id}/webhooks/{webhook_id}"): route(
        C, P, owner=P, ok=204
    ),
    # Listings: partners change their own, coordinators review, members read live ones.
    ("GET", "/api/v1/listings"): route(C, P, M),
    ("POST", "/api/v1/listings"): route(P, ok=201, data=listing_body(title="Posted in the matrix")),
    ("GET", "/api/v1/listings/{listing_id}"): route(C, P, M, owner=P),
    ("PATCH", "/api/v1/listings/{listing_id}"): route(
        P, owner=P, data={"capacity": 9}, objects=FRESH_LISTING
    ),
    ("DELETE", "/api/v1/listings/{listing_id}"): route(P, owner=P, ok=204, objects=FRESH_LISTING),
    ("GET", "/api/v1/listings/{listing_id}/interest"): route(C, P, owner=P),
    # Check-ins: the owning partner, naming a member who shared their contact with it.
    ("POST", "/api/v1/listings/{listing_id}/check-ins"): route(
        P,
        owner=P,
        ok=(200, 201),
        data=lambda w, c: {"contact_id": w.ids["shared_contact"]},
        objects={"listing_id": "shared_listing"},
    ),
    ("POST", "/api/v1/listings/{listing_id}/review"): route(
        C, data={"decision": "approve"}, objects={"listing_id": "pending_listing"}
    ),
    # Members: open sign-up, then only "me".
    ("POST", "/api/v1/members"): public(
        ok=201, data=lambda w, c: {**NEW_MEMBER, "email": w.unique_email()}, own_keys=True
    ),
    ("GET", "/api/v1/members/me"): route(M, own_keys=True),
    ("PATCH", "/api/v1/members/me"): route(M, data={"languages": ["en"]}, own_keys=True),
    ("DELETE", "/api/v1/members/me"): route(M, ok=204, spends_caller=True),
    ("GET", "/api/v1/members/me/export"): route(M, own_keys=True),
    ("PUT", "/api/v1/members/me/consents"): route(
        M, data={"matching": True, "peer_introductions": True}, own_keys=True
    ),
    ("POST", "/api/v1/members/me/match-requests"): route(M, ok=202),
    ("GET", "/api/v1/match-requests/{request_id}"): route(M, owner=M),
    ("GET", "/api/v1/members/me/suggestions"): route(M),
    ("GET", "/api/v1/members/me/introductions"): route(M),
    ("POST", "/api/v1/suggestions/{suggestion_id}/response"): route(
        M, owner=M, data={"answer": "yes"}
    ),
    ("GET", "/api/v1/members/me/notifications"): route(M),
    ("POST", "/api/v1/members/me/attendance"): route(
        M, ok=(200, 201), data=lambda w, c: {"listing_id": w.ids["listing"]}
    ),
    ("GET", "/api/v1/members/me/attendance"): route(M),
    ("GET", "/api/v1/members/me/balance"): route(M),
    ("GET", "/api/v1/members/me/follow-ups"): route(M),
    ("PATCH", "/api/v1/members/me/follow-ups"): route(M, data={"snooze_days": 0}),
    ("POST", "/api/v1/members/me/follow-ups/{follow_up_id}/reply"): route(
        M, owner=M, data={"reply": "kept_in_touch"}
    ),
    ("POST", "/api/v1/members/me/notifications/{notification_id}/read"): route(M, owner=M),
    # The connection check-in: each member's own (both A and B gave its consent).
    ("GET", "/api/v1/members/me/connection-check-ins"): route(M),
    ("POST", "/api/v1/members/me/connection-check-ins"): route(
        M, ok=201, data={"lack_companionship": 2, "left_out": 1, "isolated": 2}
    ),
    # Outcome figures: aggregates over ten or more, for coordinators only.
    ("GET", "/api/v1/reports/outcomes"): route(C),
    # Signing in and out: anyone, with the credential the form asks for.
    ("GET", "/"): public(ok=(200, 302)),
    ("POST", "/sign-out"): public(ok=302, fresh_session=True),
    ("GET", "/dashboard/login"): public(),
    ("POST", "/dashboard/login"): public(
        ok=302,
        data={"email": COORDINATOR_EMAIL, "password": COORDINATOR_PASSWORD},
        fresh_session=True,
    ),
    ("GET", "/partner/sign-in"): public(),
    ("POST", "/partner/sign-in"): public(
        ok=302, data=lambda w, c: {"api_key": w.partner_key}, fresh_session=True
    ),
    ("GET", "/me/sign-in"): public(),
    ("POST", "/me/sign-in"): public(data={"email": "someone@example.org"}),
    # A sign-in link and a calendar feed URL are credentials themselves (member A's here).
    ("GET", "/me/sign-in/{token}"): public(objects={"token": "sign_in_token"}),
    ("POST", "/me/sign-in/{token}"): public(
        ok=302, objects={"token": "sign_in_token"}, fresh_session=True
    ),
    ("GET", "/me/calendar/{token}.ics"): public(objects={"token": "feed_token"}),
    ("GET", "/me/join"): public(ok=(200, 302)),
    ("POST", "/me/join"): public(
        ok=302,
        data=lambda w, c: {"display_name": "Joiner", "email": w.unique_email()},
        fresh_session=True,
    ),
    ("GET", "/me/goodbye"): public(),
    # The coordinator dashboard.
    ("GET", "/dashboard"): route(C),
    ("GET", "/dashboard/review"): route(C),
    ("POST", "/dashboard/review/{listing_id}"): route(
        C, ok=302, data={"decision": "approve"}, objects={"listing_id": "pending_listing"}
    ),
    ("GET", "/dashboard/coverage"): route(C),
    ("GET", "/dashboard/quiet"): route(C),
    ("GET", "/dashboard/outcomes"): route(C),
    ("GET", "/dashboard/organizations"): route(C),
    ("POST", "/dashboard/organizations"): route(
        C, ok=201, data=lambda w, c: {"name": w.unique("Org"), "contact_email": "n@org.example"}
    ),
    ("GET", "/dashboard/organizations/{organization_id}"): route(C),
    ("POST", "/dashboard/organizations/{organization_id}/keys"): route(
        C, ok=201, data={"label": "matrix"}
    ),
    ("POST", "/dashboard/organizations/{organization_id}/keys/{key_id}"): route(C, ok=302),
    ("GET", "/dashboard/jobs"): route(C),
    ("POST", "/dashboard/jobs/retry"): route(C, ok=302, data={"all": "yes"}),
    # Member pages.
    ("GET", "/me"): route(M),
    ("GET", "/me/profile"): route(M),
    ("POST", "/me/profile"): route(M, ok=302, data=lambda w, c: w.profile_form(c)),
    ("POST", "/me/suggestions/{suggestion_id}/answer"): route(
        M, owner=M, ok=302, data={"answer": "yes"}
    ),
    ("POST", "/me/match-requests"): route(M, ok=302),
    ("GET", "/me/match-requests/{request_id}"): route(M, owner=M),
    ("GET", "/me/match-requests/{request_id}/status"): route(M, owner=M),
    ("GET", "/me/introductions"): route(M),
    ("GET", "/me/notifications"): route(M),
    ("POST", "/me/notifications/{notification_id}/read"): route(M, owner=M, ok=302),
    ("GET", "/me/going"): route(M),
    ("POST", "/me/going"): route(
        M, ok=302, data=lambda w, c: {"listing_id": str(w.ids["listing"])}
    ),
    ("POST", "/me/follow-ups"): route(M, ok=302, data={"enabled": "on"}),
    ("POST", "/me/follow-ups/{follow_up_id}/reply"): route(
        M, owner=M, ok=302, data={"reply": "kept_in_touch"}
    ),
    ("GET", "/me/check-in"): route(M),
    ("POST", "/me/check-in"): route(
        M, ok=302, data={"lack_companionship": "2", "left_out": "1", "isolated": "2"}
    ),
    ("POST", "/me/check-in/start"): route(M, ok=302),
    # Withdrawing deletes the answers: members call it as stand-ins, so order never matters.
    ("POST", "/me/check-in/withdraw"): route(M, ok=302, spends_caller=True),
    ("GET", "/me/calendar"): route(M),
    ("POST", "/me/calendar/new-link"): route(M, ok=302),
    ("GET", "/me/privacy"): route(M),
    ("GET", "/me/export.json"): route(M, own_keys=True),
    ("POST", "/me/erase"): route(M, ok=302, data={"confirm": "on"}, spends_caller=True),
    # Partner pages: each organization's own listings, keys, webhooks and details.
    ("GET", "/partner"): route(P),
    ("GET", "/partner/listings/new"): route(P),
    ("POST", "/partner/listings/new"): route(P, ok=303, data=LISTING_FORM),
    ("GET", "/partner/listings/{listing_id}"): route(P, owner=P),
    ("GET", "/partner/listings/{listing_id}/edit"): route(P, owner=P),
    ("POST", "/partner/listings/{listing_id}/check-ins"): route(
        P,
        owner=P,
        ok=302,
        data=lambda w, c: {"contact_id": str(w.ids["shared_contact"])},
        objects={"listing_id": "shared_listing"},
    ),
    ("POST", "/partner/listings/{listing_id}/edit"): route(
        P, owner=P, ok=303, data=LISTING_FORM, objects=FRESH_LISTING
    ),
    ("POST", "/partner/listings/{listing_id}/status"): route(
        P, owner=P, ok=303, data={"action": "pause"}, objects=FRESH_LISTING
    ),
    ("GET", "/partner/keys"): route(P),
    ("POST", "/partner/keys"): route(P, data={"label": "matrix"}),
    ("POST", "/partner/keys/{key_id}/revoke"): route(P, owner=P, ok=303),
    ("GET", "/partner/webhooks"): route(P),
    ("POST", "/partner/webhooks"): route(P, data={"url": WEBHOOK_URL}),
    ("POST", "/partner/webhooks/{webhook_id}/remove"): route(P, owner=P, ok=303),
    ("GET", "/partner/organization"): route(P),
    ("POST", "/partner/organization"): route(P, ok=303, data=lambda w, c: w.organization_form(c)),
}

# The answer each caller must get.
ALLOWED, SIGN_IN, FORBIDDEN, NOT_FOUND = "allowed", "sign in", "forbidden", "not found"


def expected(decided: Route, caller: str) -> str:
    role = ROLE_OF[caller]
    if ANYONE in decided.allowed:
        return ALLOWED
    if role is None:
        return SIGN_IN
    if role not in decided.allowed:
        return FORBIDDEN
    if decided.owner == role and caller.startswith("other_"):
        return NOT_FOUND
    return ALLOWED


def template_of(rule: str) -> str:
    """`/listings/<int(max=2147483647):listing_id>` as `/listings/{listing_id}`."""
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule)


def served_routes(app) -> set[tuple[str, str]]:
    return {
        (method, template_of(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def is_api(template: str) -> bool:
    return template.startswith("/api/")


# ------------------------------------------------------------------------------------- the world


@dataclass
class Door:
    """One caller's two ways in: a bearer token for the API, a signed-in browser for pages."""

    api: Caller
    page: PageClient


class World:
    """Member A and partner A own everything the paths name; B of each kind owns nothing of it."""

    def __init__(self, kindred):
        self.kindred = kindred
        self.app = create_app(kindred=kindred)
        self.app.config["TESTING"] = True
        self.counter = itertools.count(1)
        self.doors: dict[str, Door] = {}
        # Each member's and organization's id by its caller's name, and the shared objects.
        self.ids: dict[str, int] = {}
        self.tokens: dict[str, str] = {}

    # ---------------------------------------------------------------- building

    def build(self) -> World:
        account = create_coordinator(
            self.kindred.uow(), COORDINATOR_EMAIL, "Coord", COORDINATOR_PASSWORD
        )
        self.coordinator = Principal(Role.COORDINATOR, account.coordinator.id)
        self.doors["coordinator"] = Door(
            Caller(self.app.test_client(), account.token), self._coordinator_page()
        )
        self.doors["anonymous"] = Door(Caller(self.app.test_client(), None), self._visitor())
        for name, organization in (("partner", "Garden Friends"), ("other_partner", "Other Club")):
            self.doors[name] = self._partner(name, organization)
        self.partner_a = Principal(Role.PARTNER, self.ids["partner"])
        self.profiles = {"member": MEMBER_A, "other_member": MEMBER_B}
        for name, profile in self.profiles.items():
            self._sign_up(name, profile)
            self.doors[name] = self.member_door(self.ids[name], self.tokens[name])
        self.ids["listing"] = self.fresh_listing(note=REVIEW_NOTE)
        self.ids["second_listing"] = self.fresh_listing(title="Quiet chess evening")
        self._suggest_and_introduce()
        self._sharing_examples()
        run_worker(self.kindred)  # fan-out, answers, introductions, notifications
        # Made after the worker ran: nothing is ever delivered to the webhook, and the request
        # stays queued.
        self.ids["webhook"] = self.fresh_webhook()
        member_a = Principal(Role.MEMBER, self.ids["member"])
        self.ids["request"] = matching.request_matches(self.kindred.uow(), member_a).id
        with self.kindred.uow() as uow:
            self.ids["notification"] = uow.session.scalar(
                sa.select(sa.func.min(Notification.id)).where(
                    Notification.member_id == self.ids["member"]
                )
            )
        assert self.ids["notification"] is not None, "member A has no notification"
        self.ids["follow_up"] = self._follow_up_about_b()
        # What the checks rely on: B was introduced to A, and partner A's listing had A's yes.
        member_b = Principal(Role.MEMBER, self.ids["other_member"])
        introduced = introductions.my_introductions(self.kindred.uow(), member_b)
        assert [i["peer"]["display_name"] for i in introduced] == [MEMBER_A["display_name"]]
        interest = listing_interest(self.kindred.uow(), self.partner_a, self.ids["listing"])
        assert interest["interest"]["yes"] == 1
        return self

    def _visitor(self) -> PageClient:
        client = PageClient(self.app)
        client.get("/me/sign-in")  # a CSRF token, as a browser has from any form
        return client

    def _coordinator_page(self) -> PageClient:
        client = PageClient(self.app)
        client.get("/dashboard/login")
        response = client.post(
            "/dashboard/login", {"email": COORDINATOR_EMAIL, "password": COORDINATOR_PASSWORD}
        )
        assert response.status_code == 302, text_of(response)
        client.get("/dashboard")
        return client

    def _partner(self, name: str, organization_name: str) -> Door:
        organization, new_key = organizations.create_organization(
            self.kindred.uow(),
            self.coordinator,
            {"name": organization_name, "contact_email": f"team@{name.replace('_', '-')}.example"},
        )
        self.ids[name] = organization.id
        if name == "partner":
            self.partner_key = new_key.secret
        client = PageClient(self.app)
        client.get("/partner/sign-in")
        response = client.post("/partner/sign-in", {"api_key": new_key.secret})
        assert response.status_code == 302, text_of(response)
        client.get("/partner")
        return Door(Caller(self.app.test_client(), new_key.secret), client)

    def _sign_up(self, name: str, profile: dict) -> None:
        response = self.app.test_client().post("/api/v1/members", json=profile)
        assert response.status_code == 201, response.json
        self.ids[name], self.tokens[name] = response.json["id"], response.json["token"]

    def member_door(self, member_id: int, token: str) -> Door:
        client = PageClient(self.app)
        link = self.sign_in_token(member_id)
        client.get(f"/me/sign-in/{link}")
        response = client.post(f"/me/sign-in/{link}")
        assert response.status_code == 302, text_of(response)
        client.get("/me")
        return Door(Caller(self.app.test_client(), token), client)

    def _suggest_and_introduce(self) -> None:
        """A said yes to partner A's listing without sharing a contact and has another one open;
        A and B said yes to each other (introduced), and B has A suggested once more."""
        a, b = self.ids["member"], self.ids["other_member"]
        with self.kindred.uow() as uow:
            yes_to_listing = self._group(uow, a, self.ids["listing"], "2026-W10")
            self._group(uow, a, self.ids["second_listing"], "2026-W10")
            a_about_b = self._peer(uow, a, b, "2026-W10")
            b_about_a = self._peer(uow, b, a, "2026-W10")
            self._peer(uow, b, a, "2026-W11")
            uow.commit()
            answers = [(a, yes_to_listing.id), (a, a_about_b.id), (b, b_about_a.id)]
        for member_id, suggestion_id in answers:
            matching.answer_suggestion(
                self.kindred.uow(), Principal(Role.MEMBER, member_id), suggestion_id, Answer.YES
            )

    def _follow_up_about_b(self) -> int:
        """A's keep-in-touch follow-up a week after being introduced to B."""
        with self.kindred.uow() as uow:
            pair = sorted((self.ids["member"], self.ids["other_member"]))
            introduction = uow.session.scalars(
                sa.select(Introduction).where(
                    Introduction.member_low_id == pair[0], Introduction.member_high_id == pair[1]
                )
            ).one()
            follow_up = FollowUp(
                member_id=self.ids["member"],
                subject=f"introduction:{introduction.id}",
                introduction_id=introduction.id,
                step=1,
                due_on=introduction.introduced_at.date(),
                delivered_by="notification",
            )
            uow.session.add(follow_up)
            uow.commit()
            return follow_up.id

    def _sharing_examples(self) -> None:
        """Members of their own for what sharing shows (see the tests at the end)."""
        self.ids["shared_listing"] = self.fresh_listing(title="Bring-a-dish supper")
        for name, profile in SHARING_MEMBERS.items():
            self._sign_up(name, profile)
        with self.kindred.uow() as uow:
            sharer = self._group(uow, self.ids["sharer"], self.ids["shared_listing"], "2026-W10")
            keeper = self._group(uow, self.ids["keeper"], self.ids["shared_listing"], "2026-W10")
            e_about_f = self._peer(uow, self.ids["open_peer"], self.ids["closed_peer"], "2026-W10")
            f_about_e = self._peer(uow, self.ids["closed_peer"], self.ids["open_peer"], "2026-W10")
            uow.commit()
            self.ids["shared_contact"] = sharer.id
            answers = [
                ("sharer", sharer.id, True),
                ("keeper", keeper.id, False),
                ("open_peer", e_about_f.id, False),
                ("closed_peer", f_about_e.id, False),
            ]
        for name, suggestion_id, share in answers:
            matching.answer_suggestion(
                self.kindred.uow(),
                Principal(Role.MEMBER, self.ids[name]),
                suggestion_id,
                Answer.YES,
                share_contact=share,
            )

    @staticmethod
    def _group(uow, member_id: int, listing_id: int, cycle: str) -> Suggestion:
        suggestion = group_suggestion(
            member_id, listing_id, cycle, reasons=["matches your interest in gardening"]
        )
        uow.session.add(suggestion)
        uow.flush()
        return suggestion

    @staticmethod
    def _peer(uow, member_id: int, peer_id: int, cycle: str) -> Suggestion:
        suggestion = Suggestion(
            member_id=member_id,
            kind=SuggestionKind.PEER,
            target=f"member:{peer_id}",
            peer_id=peer_id,
            cycle=cycle,
            score=0.7,
            reasons=["you both care about environment", "lives within 2 km of you"],
        )
        uow.session.add(suggestion)
        uow.flush()
        return suggestion

    # ---------------------------------------------------------------- objects on demand

    def unique(self, prefix: str) -> str:
        return f"{prefix} {next(self.counter)}"

    def unique_email(self) -> str:
        return f"new{next(self.counter)}@example.org"

    def fresh_listing(
        self, title: str = "Gentle garden club", live: bool = True, note: str | None = None
    ) -> int:
        data = json_safe_schedule(ListingWriteSchema().load(listing_body(title=title)))
        listing = listings.create_listing(self.kindred.uow(), self.partner_a, data)
        if live:  # partner A is not verified: its listings go live when a coordinator approves
            listings.review_listing(self.kindred.uow(), self.coordinator, listing.id, True, note)
        return listing.id

    def fresh_key(self) -> int:
        return organizations.issue_key(
            self.kindred.uow(), self.coordinator, self.ids["partner"], "spare"
        ).id

    def fresh_webhook(self) -> int:
        created = webhooks.register(
            self.kindred.uow(), self.partner_a, self.ids["partner"], WEBHOOK_URL, False
        )
        return created.endpoint.id

    def fresh_suggestion(self) -> int:
        with self.kindred.uow() as uow:
            cycle = f"M{next(self.counter):05d}"
            suggestion = self._group(uow, self.ids["member"], self.ids["second_listing"], cycle)
            uow.commit()
            return suggestion.id

    def sign_in_token(self, member_id: int | None = None) -> str:
        settings = self.kindred.settings
        link = sign_in_links.link_for(
            settings.secret_key,
            settings.public_url,
            event_id=1_000_000 + next(self.counter),
            member_id=member_id or self.ids["member"],
        )
        return link.rsplit("/", 1)[1]

    def feed_token(self) -> str:
        member_a = Principal(Role.MEMBER, self.ids["member"])
        return calendar_feed.my_feed_token(
            self.kindred.uow(), member_a, self.kindred.settings.secret_key
        )

    def object_for(self, parameter: str, decided: Route):
        made = {
            "fresh_listing": lambda: self.fresh_listing(live=True),
            "pending_listing": lambda: self.fresh_listing(live=False),
            "shared_listing": lambda: self.ids["shared_listing"],
            "sign_in_token": self.sign_in_token,
            "feed_token": self.feed_token,
        }
        if parameter in decided.objects:
            return made[decided.objects[parameter]]()
        return {
            "organization_id": lambda: self.ids["partner"],
            "listing_id": lambda: self.ids["listing"],
            "request_id": lambda: self.ids["request"],
            "notification_id": lambda: self.ids["notification"],
            "follow_up_id": lambda: self.ids["follow_up"],
            "suggestion_id": self.fresh_suggestion,  # every suggestion route answers it
            "key_id": self.fresh_key,  # every key route revokes it
            "webhook_id": self.fresh_webhook,  # every webhook route removes it
            "filename": lambda: "index.css",
        }[parameter]()

    # ---------------------------------------------------------------- forms of each caller's own

    def profile_form(self, caller: str) -> dict:
        """The profile form as the member's own page shows it filled in, sent back unchanged."""
        if ROLE_OF[caller] != M:
            return {}  # refused before the form is read
        profile = self.profiles[caller]
        consents = profile["consents"]
        form = {
            "display_name": profile["display_name"],
            "email": profile["email"],
            "interests": ", ".join(profile["interests"]),
            "interests_text": profile["interests_text"],
            "causes": ", ".join(profile["causes"]),
            "languages": "en",
            "place": "other",
            "area": profile["area"],
            "lat": str(profile["lat"]),
            "lon": str(profile["lon"]),
            "travel_radius_km": str(profile["travel_radius_km"]),
            "availability": profile["availability"],
            "timezone": profile["timezone"],
            **{f"consent_{name}": "on" for name, given in consents.items() if given},
        }
        for name in (
            "attendance", "comfort_group_size", "comfort_structure", "comfort_pace",
            "digest_day", "quiet_hours_start", "quiet_hours_end",
        ):  # fmt: skip
            if name in profile:
                form[name] = profile[name]
        if "max_notifications_per_week" in profile:
            form["max_notifications_per_week"] = str(profile["max_notifications_per_week"])
        if profile.get("start_slowly"):
            form["start_slowly"] = "on"
        return form

    def organization_form(self, caller: str) -> dict:
        if ROLE_OF[caller] != P:
            return {}  # refused before the form is read
        with self.kindred.uow() as uow:
            organization = uow.organizations.get(self.ids[caller])
            return {
                "name": organization.name,
                "contact_email": organization.contact_email,
                "website": organization.website or "",
            }

    # ---------------------------------------------------------------- calling

    def door_for(self, caller: str, decided: Route) -> Door:
        if decided.spends_caller and ROLE_OF[caller] == M:
            return self.stand_in_member()
        return self.doors[caller]

    def stand_in_member(self) -> Door:
        response = self.app.test_client().post(
            "/api/v1/members", json={**NEW_MEMBER, "email": self.unique_email()}
        )
        assert response.status_code == 201, response.json
        return self.member_door(response.json["id"], response.json["token"])

    def copy_of(self, page: PageClient) -> PageClient:
        """Another browser with the same cookie: signing it in or out leaves the caller as is."""
        copy = PageClient(self.app)
        name = self.app.config["SESSION_COOKIE_NAME"]
        cookie = page.client.get_cookie(name)
        if cookie is not None:
            copy.client.set_cookie(name, cookie.value, secure=True, httponly=True)
        copy.csrf_token = page.csrf_token
        return copy

    def call(self, method: str, template: str, caller: str):
        decided = ROUTES[(method, template)]
        parameters = re.findall(r"{(\w+)}", template)
        path = template.format(**{name: self.object_for(name, decided) for name in parameters})
        data = decided.data(self, caller) if callable(decided.data) else decided.data
        door = self.door_for(caller, decided)
        if is_api(template):
            send = getattr(door.api, method.lower())
            if method in ("POST", "PATCH", "PUT"):
                return send(path, json=data or {})
            return send(path)
        page = self.copy_of(door.page) if decided.fresh_session else door.page
        if method == "GET":
            return page.get(path)
        return page.post(path, data or {})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory, migrated_sqlite_template, redis_url):
    """The world, built once per database for the whole module."""
    directory = tmp_path_factory.mktemp("authorization")
    if request.param == "sqlite":
        shutil.copy(migrated_sqlite_template, directory / "kindred.db")
        url = f"sqlite:///{directory / 'kindred.db'}"
    else:
        url = request.getfixturevalue("migrated_postgres_url")
    # The matrix signs in, signs up and calls hundreds of times from one address.
    generous = {
        name: "100000 per minute"
        for name in ("login_rate_limit", "signup_rate_limit", "api_rate_limit")
        if name in Settings.__dataclass_fields__
    }
    settings = Settings(
        database_url=url,
        redis_url=redis_url,
        secret_key="authorization-matrix-secret",
        var_dir=directory / "var",
        **generous,
    )
    kindred = bootstrap(settings)
    kindred.redis.flushdb()
    context.use(kindred)  # jobs run by run_worker use this service
    try:
        yield World(kindred).build()
    finally:
        kindred.redis.flushdb()
        kindred.close()
        if request.param == "postgresql":
            truncate_all(url)


# ------------------------------------------------------------------------------------- checking


def answer_text(response) -> str:
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    return headers + "\n" + response.get_data().decode("utf-8", "replace")


def keys_in(document) -> set[str]:
    if isinstance(document, dict):
        return set(document).union(*(keys_in(value) for value in document.values()))
    if isinstance(document, list):
        return set().union(*(keys_in(item) for item in document))
    return set()


def leaks(response, caller: str, decided: Route) -> dict[str, list[str]]:
    """What `caller` was shown and may not see: secrets by name, and private JSON keys."""
    if caller == "coordinator":
        return {}
    text = answer_text(response)
    found = {
        name: [match.group(0) for pattern in shown.patterns for match in pattern.finditer(text)]
        for name, shown in SECRETS.items()
        if caller not in shown.seen_by
    }
    document = response.get_json(silent=True) if response.is_json else None
    keys = set() if decided.own_keys else keys_in(document)
    if caller != "member":
        found["member keys"] = sorted(keys & MEMBER_KEYS)
    if ROLE_OF[caller] != P:
        found["review keys"] = sorted(keys & REVIEW_KEYS)
    return {name: shown for name, shown in found.items() if shown}


def check_answer(response, outcome: str, decided: Route, template: str) -> None:
    status = response.status_code
    body = response.get_data(as_text=True)[:300]
    location = urlsplit(response.headers.get("Location", "")).path
    if outcome == ALLOWED:
        assert status in decided.ok, (status, body)
        assert location not in SIGN_IN_PAGE.values(), f"sent to sign in: {location}"
    elif outcome == SIGN_IN and is_api(template):
        assert status == 401, (status, body)
    elif outcome == SIGN_IN:
        (role,) = decided.allowed
        assert (status, location) == (302, SIGN_IN_PAGE[role]), (status, location, body)
    elif outcome == FORBIDDEN:
        assert status == 403, (status, body)
    else:
        assert status == 404, (status, body)


def test_the_search_finds_each_secret_where_it_may_be_seen(world):
    """The patterns match the way the API and the pages show each value (a search that never
    matched would pass every check)."""
    anyone = Route(frozenset({ANYONE}))
    member_a, partner_a = world.doors["member"], world.doors["partner"]
    profile_secrets = {name for name in SECRETS if name.startswith("A's")}
    for response in (member_a.api.get("/api/v1/members/me"), member_a.page.get("/me/profile")):
        assert set(leaks(response, "anonymous", anyone)) >= profile_secrets
    export = member_a.api.get("/api/v1/members/me/export")
    assert leaks(export, "anonymous", anyone)["member keys"] == sorted(MEMBER_KEYS)
    listing = f"/api/v1/listings/{world.ids['listing']}"
    for response in (partner_a.api.get(listing), partner_a.page.get("/partner")):
        assert "the review note" in leaks(response, "anonymous", anyone)
    assert leaks(partner_a.api.get(listing), "anonymous", anyone)["review keys"] == sorted(
        REVIEW_KEYS
    )


def test_the_matrix_decides_every_route(world):
    served = served_routes(world.app)
    assert not served - set(ROUTES), "routes the matrix does not decide"
    assert not set(ROUTES) - served, "routes the app no longer serves"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "template"), sorted(ROUTES), ids=[f"{m} {t}" for m, t in sorted(ROUTES)]
)
def test_every_route_answers_every_caller_as_the_matrix_says(world, method, template, caller):
    decided = ROUTES[(method, template)]
    response = world.call(method, template, caller)
    response.get_data()  # read, then closed: a file sent by send_file is open until then
    response.close()
    check_answer(response, expected(decided, caller), decided, template)
    assert leaks(response, caller, decided) == {}


# -------------------------------------------------------------------- what sharing shows, exactly

# Each has a private sentence and place of their own; names and emails are shown only as below.
SHARING_MEMBERS = {
    name: {
        "display_name": display_name,
        "email": f"{name.replace('_', '.')}.inbox@example.org",
        "interests": ["food"],
        "interests_text": f"{display_name} secretly writes limericks about owls",
        "causes": ["environment"],
        "lat": 51.4612345,
        "lon": -2.5712345,
        "area": f"{display_name.split()[1]} Hollow",
        "timezone": "Asia/Kathmandu",
        "consents": {"matching": True, "peer_introductions": True},
    }
    | extra
    for name, display_name, extra in (
        ("sharer", "Cordelia Vantongeren", {}),
        ("keeper", "Desmond Ulvaeus", {}),
        ("open_peer", "Evangeline Marchetti", {"share_email_on_introduction": True}),
        ("closed_peer", "Fitzgerald Okonkwo", {}),
    )
}


def private_texts(name: str) -> list[str]:
    """What only the member and the matcher may know: never shown to a partner or a peer."""
    profile = SHARING_MEMBERS[name]
    return [profile["interests_text"], profile["area"], "51.4612345", "-2.5712345", "Kathmandu"]


def shows(text: str, name: str) -> dict[str, bool]:
    profile = SHARING_MEMBERS[name]
    return {
        "name": profile["display_name"] in text,
        "email": profile["email"] in text,
        "private": any(value in text for value in private_texts(name)),
    }


def test_a_partner_sees_the_name_and_email_of_members_who_shared_them_and_nothing_else(world):
    listing_id = world.ids["shared_listing"]
    partner_a = world.doors["partner"]
    interest = partner_a.api.get(f"/api/v1/listings/{listing_id}/interest").json
    sharer = SHARING_MEMBERS["sharer"]
    assert [(c["display_name"], c["email"]) for c in interest["contacts"]] == [
        (sharer["display_name"], sharer["email"])
    ]
    assert set(interest["contacts"][0]) == {"contact_id", "display_name", "email", "said_yes_at"}
    assert interest["interest"]["yes"] == 2
    page = text_of(partner_a.page.get(f"/partner/listings/{listing_id}"))
    for text in (str(interest), page):
        assert shows(text, "sharer") == {"name": True, "email": True, "private": False}
        assert shows(text, "keeper") == {"name": False, "email": False, "private": False}
    # Nowhere else: not with its other listings, nor on its list.
    elsewhere = [
        partner_a.api.get(f"/api/v1/listings/{world.ids['listing']}/interest").get_data(
            as_text=True
        ),
        text_of(partner_a.page.get(f"/partner/listings/{world.ids['listing']}")),
        text_of(partner_a.page.get("/partner")),
    ]
    for text in elsewhere:
        assert shows(text, "sharer") == {"name": False, "email": False, "private": False}
    # A coordinator sees how many, not who; another partner sees nothing at all.
    counts = world.doors["coordinator"].api.get(f"/api/v1/listings/{listing_id}/interest")
    assert counts.status_code == 200 and counts.json["contacts"] == []
    other = world.doors["other_partner"]
    assert other.api.get(f"/api/v1/listings/{listing_id}/interest").status_code == 404
    assert other.page.get(f"/partner/listings/{listing_id}").status_code == 404


def test_introduced_members_see_what_the_other_chose_to_share_and_nothing_else(world):
    """open_peer shares their email on introduction, closed_peer does not: each sees the
    other's name, and only closed_peer sees an email."""
    doors = {
        name: world.member_door(world.ids[name], world.tokens[name])
        for name in ("open_peer", "closed_peer")
    }
    peers = {
        name: door.api.get("/api/v1/members/me/introductions").json for name, door in doors.items()
    }
    open_peer, closed_peer = SHARING_MEMBERS["open_peer"], SHARING_MEMBERS["closed_peer"]
    assert [i["peer"] for i in peers["closed_peer"]] == [
        {"display_name": open_peer["display_name"], "email": open_peer["email"]}
    ]
    assert [i["peer"] for i in peers["open_peer"]] == [
        {"display_name": closed_peer["display_name"]}
    ]
    for name, other, email_shown in (
        ("closed_peer", "open_peer", True),
        ("open_peer", "closed_peer", False),
    ):
        door = doors[name]
        where_introduced = [
            door.api.get("/api/v1/members/me/introductions"),
            door.page.get("/me/introductions"),
        ]
        elsewhere = [
            door.api.get("/api/v1/members/me/notifications"),
            door.api.get("/api/v1/members/me/suggestions"),
            door.page.get("/me"),
            door.page.get("/me/notifications"),
        ]
        for response in where_introduced:
            assert response.status_code == 200
            seen = shows(response.get_data(as_text=True), other)
            assert seen == {"name": True, "email": email_shown, "private": False}
        for response in elsewhere:
            assert response.status_code == 200
            seen = shows(response.get_data(as_text=True), other)
            assert seen["private"] is False, response.request.path
            if not email_shown:
                assert seen["email"] is False, response.request.path


# ------------------------------------------------------------------------- beyond the six callers


def test_members_do_not_see_listings_that_are_not_live(world):
    pending = world.fresh_listing(live=False)
    for caller, status in (
        ("member", 404),
        ("other_member", 404),
        ("partner", 200),
        ("other_partner", 404),
        ("coordinator", 200),
    ):
        response = world.doors[caller].api.get(f"/api/v1/listings/{pending}")
        assert response.status_code == status, caller


def test_forged_sign_in_links_and_calendar_links_open_nothing(world):
    visitor = world.doors["anonymous"].page
    forged = world.sign_in_token()[:-2] + "xx"
    assert visitor.post(f"/me/sign-in/{forged}").status_code == 401
    feed = world.feed_token()
    assert visitor.get(f"/me/calendar/{feed[:-2]}xx.ics").status_code == 404
    assert visitor.get(f"/me/calendar/{feed}.ics").status_code == 200
