"""The member pages under /me, driven as a browser drives them: forms with their CSRF tokens, a
session cookie, redirects. Suggestions come from the real pipeline (outbox, RQ, the matching
worker) run in-process by `run_worker`."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from icalendar import Calendar
from markupsafe import escape

from service.adapters.orm import (
    ConsentRecord,
    FollowUp,
    Member,
    Notification,
    SessionAttendance,
    Suggestion,
    utcnow,
)
from tests.integration.api.conftest import Caller, listing_body, make_partner, run_worker
from tests.integration.pages.conftest import PageClient, text_of

GARDEN_SESSION = "2030-05-04T09:00:00+00:00"
FEED_PATH = re.compile(r"(/me/calendar/[^\"<\s]+\.ics)")


def join_form(**changes) -> dict:
    """Everything the join form sends when filled in; a change of None leaves a box out (an
    unticked checkbox)."""
    form = {
        "display_name": "Ann",
        "email": "ann@example.org",
        "interests": "gardening, food",
        "interests_text": "I like quiet mornings",
        "causes": "environment",
        "languages": "EN",
        "place": "Easton",
        "area": "",
        "lat": "",
        "lon": "",
        "travel_radius_km": "5",
        "availability": ["sat_morning", "wed_evening"],
        "attendance": "in_person",
        "comfort_group_size": "small",
        "comfort_structure": "structured",
        "comfort_pace": "low_key",
        "start_slowly": "on",
        "consent_matching": "on",
        "consent_peer_introductions": "on",
        "notify_channels": "in_app",
        "digest_day": "sun",
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "08:00",
        "timezone": "Europe/London",
        "max_notifications_per_week": "3",
    }
    form.update(changes)
    return {name: value for name, value in form.items() if value is not None}


def join(app, **changes) -> PageClient:
    client = PageClient(app)
    client.get("/me/join")
    response = client.post("/me/join", join_form(**changes))
    assert response.status_code == 302, text_of(response)
    assert response.headers["Location"] == "/me"
    # Signing in starts a new session: the next forms carry its token.
    client.first_page = client.get("/me")
    return client


def member_row(kindred, email="ann@example.org") -> Member | None:
    with kindred.uow() as uow:
        member = uow.members.by_email(email)
        if member is not None:
            list(member.consent_records)  # loaded while the session is open
        return member


def suggestions_of(kindred, email="ann@example.org") -> dict[str, Suggestion]:
    """A member's suggestions by listing title or peer name."""
    member_id = member_row(kindred, email).id
    with kindred.uow() as uow:
        rows = uow.session.scalars(sa.select(Suggestion).where(Suggestion.member_id == member_id))
        return {(s.listing.title if s.listing else s.peer.display_name): s for s in rows}


def answer(client, suggestion: Suggestion, said: str, **extra):
    return client.post(f"/me/suggestions/{suggestion.id}/answer", {"answer": said, **extra})


def find_matches(client, kindred) -> int:
    response = client.post("/me/match-requests")
    assert response.status_code == 302, text_of(response)
    request_id = int(response.headers["Location"].rsplit("/", 1)[1])
    run_worker(kindred)
    return request_id


@pytest.fixture
def catalogue(app, kindred, coordinator_account):
    """Two live listings by a verified partner, in two areas; the garden club meets weekly and
    once on a date."""
    coordinator = Caller(app.test_client(), coordinator_account.token)
    partner = make_partner(coordinator, app, "Trusted Walkers", verified=True)
    listings = {
        "garden": listing_body(
            title="Gentle garden club",
            timezone="Europe/London",
            sessions=[{"starts_at": GARDEN_SESSION, "minutes": 120}],
        ),
        "chess": listing_body(
            title="Quiet chess evening",
            interests=["chess", "gardening"],
            area="Bedminster",
            lat=51.44,
            lon=-2.6,
        ),
    }
    ids = {}
    for name, body in listings.items():
        response = partner.post("/api/v1/listings", json=body)
        assert response.status_code == 201 and response.json["status"] == "active"
        ids[name] = response.json["id"]
    run_worker(kindred)  # their fan-out, before any member exists
    return ids


@pytest.fixture
def ann(app, catalogue) -> PageClient:
    return join(app)


@pytest.fixture
def bob(app, catalogue) -> PageClient:
    return join(app, display_name="Bob", email="bob@example.org", share_email_on_introduction="on")


# ---------------------------------------------------------------- joining


def test_the_join_form_ticks_no_consent_and_offers_the_listing_areas(visitor, catalogue):
    page = text_of(visitor.get("/me/join"))
    for box in ("consent_matching", "consent_peer_introductions", "consent_coordinator_contact"):
        (control,) = re.findall(rf'<input id="{box}"[^>]*>', page)
        assert "checked" not in control
    assert '<option value="Bedminster">' in page and '<option value="Easton">' in page
    assert '<option value="other">' in page
    assert '<input id="availability-sat_morning" name="availability"' in page
    assert "stay private" in page  # comfort settings say who sees them


def test_joining_signs_in_and_records_the_consents_as_ticked(app, kindred, catalogue):
    client = join(app, consent_peer_introductions=None)
    home = client.first_page
    assert home.status_code == 200 and "Welcome to kindred, Ann" in text_of(home)

    member = member_row(kindred)
    assert member.interests == ["food", "gardening"] and member.languages == ["en"]
    assert member.area == "Easton" and member.lat == pytest.approx(51.455)
    assert member.availability == ["sat_morning", "wed_evening"] and member.start_slowly
    assert member.timezone == "Europe/London" and member.notify_channels == ["in_app"]
    assert member.consent_matching is True
    assert member.consent_peer_introductions is False
    assert member.consent_coordinator_contact is False
    recorded = {(r.purpose.value, r.granted) for r in member.consent_records}
    assert recorded == {
        ("matching", True),
        ("peer_introductions", False),
        ("coordinator_contact", False),
        ("connection_checkin", False),
    }


def test_bad_input_is_shown_next_to_its_box_and_nothing_is_written(visitor, kindred, catalogue):
    visitor.get("/me/join")
    response = visitor.post(
        "/me/join",
        join_form(display_name="", email="not-an-email", interests="gardening, #chess"),
    )
    page = text_of(response)
    assert response.status_code == 422
    assert 'id="email-error"' in page and "Not a valid email address." in page
    assert 'id="display_name-error"' in page and "Please fill this in." in page
    assert 'id="interests-error"' in page and "“#chess”" in page
    assert 'value="gardening, #chess"' in page  # what was typed is kept
    assert re.search(r'<input id="consent_matching"[^>]*checked', page)
    with kindred.uow() as uow:
        assert uow.members.count() == 0


def test_half_a_coordinate_is_refused_by_the_use_case_rule(visitor, kindred, catalogue):
    visitor.get("/me/join")
    response = visitor.post("/me/join", join_form(place="other", lat="51.4", lon=""))
    assert response.status_code == 422
    assert 'id="lon-error"' in text_of(response)
    with kindred.uow() as uow:
        assert uow.members.count() == 0


def test_a_taken_email_is_409_with_a_message_on_the_email_box(app, visitor, catalogue):
    join(app)
    visitor.get("/me/join")
    response = visitor.post("/me/join", join_form(email="ANN@example.org"))
    assert response.status_code == 409
    assert 'id="email-error"' in text_of(response)
    assert "already has an account" in text_of(response)


# ---------------------------------------------------------------- suggestions and answers


def test_suggestions_show_their_reasons_and_answers_change_them(kindred, catalogue, ann):
    find_matches(ann, kindred)
    found = suggestions_of(kindred)
    garden, chess = found["Gentle garden club"], found["Quiet chess evening"]
    page = text_of(ann.get("/me"))
    for suggestion in (garden, chess):
        assert escape(suggestion.listing.title) in page
        assert suggestion.reasons and all(escape(r) in page for r in suggestion.reasons)
    assert any("gardening" in reason for reason in garden.reasons)

    yes = answer(ann, garden, "yes", share_contact="on")
    assert yes.status_code == 302 and yes.headers["Location"] == "/me"
    assert answer(ann, chess, "later").status_code == 302
    page = text_of(ann.get("/me"))
    assert "You said yes to Gentle garden club" in page
    assert "Gentle garden club</h3>" not in page  # answered: no longer offered
    assert "You said “later”" in page
    assert answer(ann, chess, "no").status_code == 302

    now = suggestions_of(kindred)
    assert now["Gentle garden club"].status.value == "yes"
    assert now["Gentle garden club"].contact_shared is True
    assert now["Quiet chess evening"].status.value == "no"
    assert "Quiet chess evening</h3>" not in text_of(ann.get("/me"))


def test_answers_the_api_would_refuse_are_refused(kindred, catalogue, ann):
    find_matches(ann, kindred)
    garden = suggestions_of(kindred)["Gentle garden club"]
    assert answer(ann, garden, "maybe").status_code == 422
    assert answer(ann, garden, "later", share_contact="on").status_code == 422
    assert suggestions_of(kindred)["Gentle garden club"].status.value == "open"


def test_the_match_request_page_and_its_status_follow_the_worker(kindred, catalogue, ann):
    asked = ann.post("/me/match-requests")
    path = asked.headers["Location"]
    page = text_of(ann.get(path))
    assert "Check again" in page and "match-poll.js" in page and 'aria-live="polite"' in page
    waiting = ann.get(f"{path}/status")
    assert waiting.status_code == 200 and waiting.json["status"] == "queued"

    run_worker(kindred)

    done = ann.get(f"{path}/status").json
    assert done["status"] == "done" and done["message"].startswith("Done. We found 2 groups")
    page = text_of(ann.get(path))
    assert "See your suggestions" in page and "match-poll.js" not in page


def test_another_members_match_request_is_not_found(kindred, catalogue, ann, bob):
    path = ann.post("/me/match-requests").headers["Location"]
    assert bob.get(f"{path}/status").status_code == 404
    assert bob.get(f"{path}/status").json == {"message": "no such match request"}
    assert bob.get(path).status_code == 404


def test_asking_for_matches_without_consent_points_to_the_consent(app, kindred, catalogue):
    client = join(app, consent_matching=None)
    assert "Find suggestions now" not in text_of(client.get("/me"))
    assert "needs your permission" in text_of(client.get("/me"))
    response = client.post("/me/match-requests")
    assert response.headers["Location"] == "/me/profile#consents"


# ---------------------------------------------------------------- introductions and inbox


def test_two_yeses_show_on_both_introduction_pages_and_in_the_inbox(kindred, ann, bob):
    for member in (ann, bob):
        find_matches(member, kindred)
    to_bob = suggestions_of(kindred)["Bob"]
    to_ann = suggestions_of(kindred, "bob@example.org")["Ann"]
    assert "Yes, introduce us" in text_of(ann.get("/me"))
    answer(ann, to_bob, "yes")
    answer(bob, to_ann, "yes")
    run_worker(kindred)

    for_ann = text_of(ann.get("/me/introductions"))
    assert "Bob</h2>" in for_ann and "mailto:bob@example.org" in for_ann
    for_bob = text_of(bob.get("/me/introductions"))
    assert "Ann</h2>" in for_bob and "Ann has not shared an email" in for_bob
    assert "ann@example.org" not in for_bob

    inbox = text_of(ann.get("/me/notifications"))
    introduced = inbox.index("You and Bob would both like to meet")
    assert introduced < inbox.index("Your suggestions are ready")  # newest first
    assert inbox.count(">New</span>") == 2 and inbox.count("Mark as read") == 2


def test_marking_a_notification_read(kindred, catalogue, ann):
    find_matches(ann, kindred)
    with kindred.uow() as uow:
        (note_id,) = uow.session.scalars(sa.select(Notification.id)).all()
    assert "Mark as read" in text_of(ann.get("/me/notifications"))
    response = ann.post(f"/me/notifications/{note_id}/read")
    assert response.headers["Location"] == f"/me/notifications#note-{note_id}"
    inbox = text_of(ann.get("/me/notifications"))
    assert "Mark as read" not in inbox and ">New</span>" not in inbox
    assert 'href="/me">Open</a>' in inbox  # the API link opens the page that shows it
    with kindred.uow() as uow:
        assert uow.session.get(Notification, note_id).read_at is not None


# ---------------------------------------------------------------- the profile


def profile_form(client) -> dict:
    """What the profile form sends back unchanged, read from its boxes."""
    page = text_of(client.get("/me/profile"))
    form = join_form(email="ann@example.org")
    for name in ("display_name", "interests", "causes", "timezone", "languages"):
        form[name] = re.search(rf'<input id="{name}" name="{name}"[^>]*value="([^"]*)"', page)[1]
    return form


def test_the_profile_is_filled_in_and_saves_changes_with_consents(kindred, ann):
    page = text_of(ann.get("/me/profile"))
    assert 'value="Ann"' in page and 'value="food, gardening"' in page
    assert '<option value="Easton" selected>' in page
    assert re.search(r'<input id="consent_matching"[^>]*checked', page)
    assert '<a href="/me/profile" aria-current="page">Profile</a>' in page
    records_before = len(member_row(kindred).consent_records)

    changed = {
        **profile_form(ann),
        "display_name": "Annie",
        "interests": "chess, walking",
        "place": "",
        "consent_coordinator_contact": "on",
        "notify_channels": "email",
    }
    del changed["consent_matching"]
    response = ann.post("/me/profile", changed)
    assert response.status_code == 302, text_of(response)
    assert "Your profile is saved." in text_of(ann.get("/me/profile"))

    member = member_row(kindred)
    assert member.display_name == "Annie" and member.interests == ["chess", "walking"]
    assert (member.area, member.lat, member.lon) == (None, None, None)
    assert member.notify_channels == ["email", "in_app"]
    assert member.consent_matching is False and member.consent_coordinator_contact is True
    new_records = {(r.purpose.value, r.granted) for r in member.consent_records[records_before:]}
    assert new_records == {("matching", False), ("coordinator_contact", True)}


def test_a_bad_profile_edit_is_shown_again_and_changes_nothing(kindred, ann):
    bad = {**profile_form(ann), "display_name": "Annie", "timezone": "Mars/Olympus"}
    bad["max_notifications_per_week"] = "99"
    response = ann.post("/me/profile", bad)
    page = text_of(response)
    assert response.status_code == 422
    assert 'id="timezone-error"' in page and "not a known time zone" in page
    assert 'id="max_notifications_per_week-error"' in page
    assert 'value="Mars/Olympus"' in page and 'value="Annie"' in page
    member = member_row(kindred)
    assert member.display_name == "Ann" and member.timezone == "Europe/London"


# ---------------------------------------------------------------- the calendar feed


def feed_path(client) -> str:
    return FEED_PATH.search(text_of(client.get("/me/calendar")))[1]


def test_the_calendar_feed_holds_the_groups_said_yes_to(app, kindred, catalogue, ann):
    find_matches(ann, kindred)
    answer(ann, suggestions_of(kindred)["Gentle garden club"], "yes")
    path = feed_path(ann)

    feed = PageClient(app).get(path)  # a calendar app: no session
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    events = Calendar.from_ical(feed.data).walk("VEVENT")
    assert {str(e["SUMMARY"]) for e in events} == {"Gentle garden club"}
    weekly = [e for e in events if "RRULE" in e]
    dated = [e for e in events if "RRULE" not in e]
    assert len(weekly) == len(dated) == 1
    assert weekly[0]["RRULE"]["FREQ"] == ["WEEKLY"] and weekly[0]["RRULE"]["BYDAY"] == ["SA"]
    assert weekly[0].decoded("DTSTART").strftime("%a %H:%M") == "Sat 10:00"
    assert dated[0].decoded("DTSTART").isoformat() == GARDEN_SESSION
    assert str(dated[0]["LOCATION"]) == "Easton"
    assert "Trusted Walkers" in str(dated[0]["DESCRIPTION"])
    assert b"Ann" not in feed.data and b"ann@example.org" not in feed.data
    assert "Gentle garden club" in text_of(ann.get("/me/calendar"))


def test_a_new_calendar_link_ends_the_old_one(app, kindred, ann):
    old = feed_path(ann)
    updated_at = member_row(kindred).updated_at
    response = ann.post("/me/calendar/new-link")
    # A new link is not a profile change: the matcher does not refit for it.
    assert member_row(kindred).updated_at == updated_at
    assert response.headers["Location"] == "/me/calendar"
    new = feed_path(ann)
    assert new != old
    calendar_app = PageClient(app)
    assert calendar_app.get(old).status_code == 404
    assert calendar_app.get(new).status_code == 200
    assert calendar_app.get("/me/calendar/forged.ics").status_code == 404
    assert calendar_app.get(new.replace(".ics", "x.ics")).status_code == 404


# ---------------------------------------------------------------- export and erasure


def test_export_downloads_the_profile_and_consent_history(ann):
    response = ann.get("/me/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment")
    everything = json.loads(response.data)
    assert everything["profile"]["email"] == "ann@example.org"
    assert everything["profile"]["comfort_pace"] == "low_key"
    assert len(everything["consent_history"]) == 4  # every box on the form, ticked or not


def test_erasure_needs_the_box_ticked(kindred, ann):
    ann.get("/me/privacy")
    refused = ann.post("/me/erase", {})
    assert refused.status_code == 422
    assert 'id="confirm-error"' in text_of(refused)
    assert member_row(kindred) is not None


def test_erasure_removes_the_member_and_signs_out(kindred, ann):
    ann.get("/me/privacy")
    response = ann.post("/me/erase", {"confirm": "on"})
    assert response.headers["Location"] == "/me/goodbye"
    goodbye = ann.get("/me/goodbye")
    assert "Your account is erased" in text_of(goodbye)
    assert "Sign out" not in text_of(goodbye)
    assert member_row(kindred) is None
    with kindred.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(ConsentRecord)) == 0
    assert ann.get("/me").headers["Location"].startswith("/me/sign-in")


# ---------------------------------------------------------------- who may open them, and how


MEMBER_PAGES = (
    "/me",
    "/me/introductions",
    "/me/notifications",
    "/me/profile",
    "/me/calendar",
    "/me/privacy",
    "/me/export.json",
    "/me/match-requests/1",
    "/me/match-requests/1/status",
)
MEMBER_FORMS = (
    "/me/match-requests",
    "/me/suggestions/1/answer",
    "/me/notifications/1/read",
    "/me/profile",
    "/me/calendar/new-link",
    "/me/erase",
)


def test_member_pages_need_a_member(visitor, coordinator_page):
    visitor.get("/me/join")  # a form, so its posts carry a valid CSRF token
    for path in MEMBER_PAGES:
        assert visitor.get(path).headers["Location"].startswith("/me/sign-in?next=")
        assert coordinator_page.get(path).status_code == 403
    for path in MEMBER_FORMS:
        assert visitor.post(path, {"confirm": "on"}).status_code == 302
        assert coordinator_page.post(path, {"confirm": "on"}).status_code == 403


def test_pages_have_one_heading_one_current_link_and_no_inline_script(
    kindred, visitor, catalogue, ann
):
    request_path = f"/me/match-requests/{find_matches(ann, kindred)}"
    pages = [(ann, path) for path in (*MEMBER_PAGES[:6], request_path)]
    for client, path in [*pages, (visitor, "/me/join"), (visitor, "/me/goodbye")]:
        page = text_of(client.get(path))
        assert page.count("<h1") == 1, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert not re.search(r"\sstyle=|\son[a-z]+=", page), path
        assert page.count('aria-current="page"') <= 1, path
    assert '<a href="/me" aria-current="page">' in text_of(ann.get(request_path))


def test_a_copied_session_of_an_erased_member_never_opens_a_newcomers_pages(app, kindred, ann):
    """SQLite gives an erased member's id to the next person who joins: a cookie copied to
    another device before the erasure must not open the newcomer's pages."""
    second_device = PageClient(app)
    for cookie in ann.client._cookies.values():
        second_device.client.set_cookie(
            cookie.key, cookie.value, domain=cookie.domain, secure=cookie.secure
        )
    assert second_device.get("/me").status_code == 200
    erased_id = member_row(kindred).id
    ann.get("/me/privacy")
    ann.post("/me/erase", {"confirm": "on"})
    join(app, email="newcomer@example.org", display_name="Newcomer")
    if kindred.engine.dialect.name == "sqlite":
        assert member_row(kindred, "newcomer@example.org").id == erased_id  # the id came back
    response = second_device.get("/me")
    assert response.status_code == 302 and "Newcomer" not in text_of(response)


def test_ids_beyond_any_row_are_not_found_not_a_crash(ann):
    for path in ("/me/match-requests/99999999999999999999", "/me/match-requests/3000000000/status"):
        assert ann.get(path).status_code == 404, path


# ---------------------------------------------------------------- going back


def test_a_member_says_i_went_from_the_going_back_page(kindred, catalogue, ann):
    find_matches(ann, kindred)
    answer(ann, suggestions_of(kindred)["Gentle garden club"], "yes")
    page = text_of(ann.get("/me/going"))
    assert "Gentle garden club" in page and "None yet." in page
    garden = catalogue["garden"]

    went = ann.post("/me/going", {"listing_id": str(garden), "session_on": ""})  # today
    assert went.status_code == 302 and went.headers["Location"] == "/me/going"
    page = text_of(ann.get("/me/going"))
    assert "is noted" in page and "None yet." not in page
    # Her own balance: the yes and the visit, both to a group where she receives.
    assert re.search(r"where you\s+give\s+0 times", page) and re.search(
        r"where you\s+receive 2 times", page
    )
    again = ann.post("/me/going", {"listing_id": str(garden)})
    assert "already told us" in text_of(ann.get(again.headers["Location"]))
    with kindred.uow() as uow:
        (visit,) = uow.session.scalars(sa.select(SessionAttendance)).all()
    assert (visit.listing_id, visit.recorded_by) == (garden, "member")


def test_keep_in_touch_follow_ups_are_answered_and_switched_off_on_the_going_back_page(
    kindred, catalogue, ann
):
    garden = catalogue["garden"]
    member_id = member_row(kindred).id
    with kindred.uow() as uow:  # what the follow-up job records when it sends one
        follow_up = FollowUp(
            member_id=member_id,
            subject=f"listing:{garden}",
            listing_id=garden,
            step=1,
            due_on=utcnow().date(),
            delivered_by="notification",
        )
        uow.session.add(follow_up)
        uow.commit()
        follow_up_id = follow_up.id
    page = text_of(ann.get("/me/going"))
    assert "Keeping in touch" in page and "Gentle garden club</strong>, a week on" in page

    replied = ann.post(f"/me/follow-ups/{follow_up_id}/reply", {"reply": "not_for_me"})
    assert replied.status_code == 302 and replied.headers["Location"].endswith("#keep-in-touch")
    page = text_of(ann.get(replied.headers["Location"]))
    assert "no more follow-ups about Gentle garden club" in page
    refused = ann.post(f"/me/follow-ups/{follow_up_id}/reply", {"reply": "whatever"})
    assert refused.status_code == 422 and "Your answer" in text_of(refused)

    turned_off = ann.post("/me/follow-ups", {"snooze_days": ""})  # the box left unticked
    assert "follow-ups are off" in text_of(ann.get(turned_off.headers["Location"]))
    snoozed = ann.post("/me/follow-ups", {"enabled": "on", "snooze_days": "14"})
    assert "snoozed until" in text_of(ann.get(snoozed.headers["Location"]))
    with kindred.uow() as uow:
        member = uow.members.get(member_id)
        assert member.follow_ups_enabled and member.follow_ups_snoozed_until > utcnow()
        assert uow.session.get(FollowUp, follow_up_id).reply == "not_for_me"


def test_a_day_in_the_future_is_shown_back_next_to_the_box(kindred, catalogue, ann):
    refused = ann.post(
        "/me/going", {"listing_id": str(catalogue["garden"]), "session_on": "2999-01-01"}
    )
    assert refused.status_code == 422
    page = text_of(refused)
    assert "The day you went" in page and "is in the future" in page
    with kindred.uow() as uow:
        assert not uow.session.scalar(sa.select(sa.func.count()).select_from(SessionAttendance))
