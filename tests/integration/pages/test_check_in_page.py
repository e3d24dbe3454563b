"""The member's connection check-in page: consent first, three questions as radio buttons, the
member's own trend as a chart (score axis 3 to 9), the support note, and "stop" that deletes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa

from service.adapters.orm import ConnectionCheckIn
from service.domain.credentials import Principal, Role
from service.services import connection_checkin
from tests.integration.pages.conftest import PageClient, text_of
from tests.integration.pages.test_member_pages import join_form, member_row

ANSWERS = {"lack_companionship": "2", "left_out": "3", "isolated": "2"}  # 7


def joined(app, **changes) -> PageClient:
    client = PageClient(app)
    client.get("/me/join")
    response = client.post("/me/join", join_form(place="", **changes))
    assert response.status_code == 302, text_of(response)
    client.get("/me")
    return client


def rows(kindred, member_id: int) -> list[tuple[str, int]]:
    with kindred.uow() as uow:
        query = sa.select(ConnectionCheckIn.month, ConnectionCheckIn.score).where(
            ConnectionCheckIn.member_id == member_id
        )
        return [tuple(row) for row in uow.session.execute(query)]


def test_joining_offers_the_check_in_consent_unticked_and_records_it_when_ticked(app, kindred):
    visitor = PageClient(app)
    page = text_of(visitor.get("/me/join"))
    assert re.search(r'<input id="consent_connection_checkin" name="consent_connection_checkin"'
                     r' type="checkbox"(?! checked)', page)  # fmt: skip
    client = joined(app, consent_connection_checkin="on")
    assert member_row(kindred).consent_connection_checkin is True
    home = text_of(client.get("/me"))
    assert "Answer this month&#39;s check-in" in home or "Answer this month's check-in" in home


def test_without_consent_the_page_explains_and_offers_to_start(app, kindred):
    client = joined(app)
    page = text_of(client.get("/me/check-in"))
    assert "Only with your consent, and only for you" in page
    assert "Start monthly check-ins" in page
    assert 'type="radio"' not in page
    refused = client.post("/me/check-in", ANSWERS)
    assert refused.status_code == 409
    assert rows(kindred, member_row(kindred).id) == []
    started = client.post("/me/check-in/start")
    assert started.status_code == 302
    assert member_row(kindred).consent_connection_checkin is True
    page = text_of(client.get("/me/check-in"))
    assert page.count('type="radio"') == 9


def test_answering_shows_the_trend_and_answering_again_replaces(app, kindred):
    client = joined(app, consent_connection_checkin="on", timezone="UTC")
    page = text_of(client.get("/me/check-in"))
    for question in connection_checkin.QUESTIONS:
        assert f"<legend>{question.text}</legend>" in page
    assert '<label for="left_out-3">Often</label>' in page
    answered = client.post("/me/check-in", ANSWERS)
    assert answered.status_code == 302, text_of(answered)
    page = text_of(client.get("/me/check-in"))
    assert "Only you can see them" in page
    assert re.search(r'id="left_out-3"[^>]*checked', page)  # the answers, shown again
    assert "Your connection check-in score by month" in page
    assert "<svg" in page and "Your score" in page
    ticks = re.findall(r'text-anchor="end">(\d+)</text>', page)
    assert ticks == [str(n) for n in range(3, 10)]  # the axis is the scale's: 3 to 9
    assert "Where to find support" in page  # 7 is 6 or more
    assert "findahelpline.com" in page
    client.post("/me/check-in", {"lack_companionship": "1", "left_out": "1", "isolated": "1"})
    month = f"{datetime.now(UTC):%Y-%m}"
    assert rows(kindred, member_row(kindred).id) == [(month, 3)]
    assert "Where to find support" not in text_of(client.get("/me/check-in"))


def test_a_missing_or_wrong_answer_is_shown_at_its_question(app, kindred):
    client = joined(app, consent_connection_checkin="on")
    client.get("/me/check-in")
    response = client.post("/me/check-in", {"lack_companionship": "2", "left_out": "7"})
    assert response.status_code == 422
    page = text_of(response)
    assert 'id="left_out-error"' in page and 'id="isolated-error"' in page
    assert re.search(r'id="lack_companionship-2"[^>]*checked', page)  # kept as chosen
    assert rows(kindred, member_row(kindred).id) == []


def test_stopping_withdraws_the_consent_and_deletes_the_answers(app, kindred):
    client = joined(app, consent_connection_checkin="on")
    member = member_row(kindred)
    connection_checkin.answer(
        kindred.uow(),
        Principal(Role.MEMBER, member.id),
        {"lack_companionship": 1, "left_out": 1, "isolated": 2},
        now=datetime(2026, 1, 15, 12, tzinfo=UTC),
    )
    client.get("/me/check-in")
    assert client.post("/me/check-in", ANSWERS).status_code == 302
    assert len(rows(kindred, member.id)) == 2
    client.get("/me/check-in")
    stopped = client.post("/me/check-in/withdraw")
    assert stopped.status_code == 302
    assert rows(kindred, member.id) == []
    assert member_row(kindred).consent_connection_checkin is False
    page = text_of(client.get("/me/check-in"))
    assert "every answer you gave has been deleted" in page
    assert "Start monthly check-ins" in page


def test_saving_the_profile_keeps_the_check_in_consent_and_answers(app, kindred):
    """The profile form carries the check-in box, so saving it changes nothing by accident."""
    client = joined(app, consent_connection_checkin="on")
    client.post("/me/check-in", ANSWERS)
    page = text_of(client.get("/me/profile"))
    assert re.search(r'<input id="consent_connection_checkin"[^>]*checked', page)
    form = join_form(place="", consent_connection_checkin="on")
    del form["email"]
    assert client.post("/me/profile", {**form, "email": "ann@example.org"}).status_code == 302
    assert member_row(kindred).consent_connection_checkin is True
    assert len(rows(kindred, member_row(kindred).id)) == 1


def test_the_offer_in_the_inbox_opens_the_check_in_page(app, kindred):
    client = joined(app, consent_connection_checkin="on", quiet_hours_start="00:00",
                    quiet_hours_end="00:00", timezone="UTC")  # fmt: skip
    noon = datetime.now(UTC).replace(hour=12, minute=0)
    assert connection_checkin.offer_connection_checkins(kindred, now=noon) == 1
    page = text_of(client.get("/me/notifications"))
    assert "Your monthly connection check-in" in page
    assert 'href="/me/check-in"' in page
    assert 'href="/me/check-in" aria-current="page"' in text_of(client.get("/me/check-in"))
