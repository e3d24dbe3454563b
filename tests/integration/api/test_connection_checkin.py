"""The connection check-in (UCLA-3) with a real database and real Redis: its own consent, one
row per member and local month, the member's own trend, a support note that never diagnoses,
the monthly offer, withdrawal, export and erasure, and answers that no other caller ever sees.

The offer job and the use case take the current instant as an argument, so months and hours
are chosen by the tests, not by the clock.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.adapters.orm import ConnectionCheckIn, Notification
from service.domain.credentials import Principal, Role
from service.domain.errors import Conflict
from service.domain.rhythm import local_month
from service.services import connection_checkin
from tests.integration.api.conftest import sign_up
from tests.integration.api.test_authorization_matrix import (  # noqa: F401 (a fixture)
    served_routes,
    world,
)

PATH = "/api/v1/members/me/connection-check-ins"
NO_QUIET_HOURS = {"quiet_hours_start": "00:00", "quiet_hours_end": "00:00"}
WITH_CONSENT = {"consents": {"matching": True, "peer_introductions": True,
                             "connection_checkin": True}}  # fmt: skip
# A Wednesday at noon UTC in March 2031.
NOON = datetime(2031, 3, 12, 12, 0, tzinfo=UTC)
LOW = {"lack_companionship": 1, "left_out": 2, "isolated": 2}  # 5
HIGH = {"lack_companionship": 2, "left_out": 2, "isolated": 2}  # 6
# Words that would diagnose or label the person, which the support note must never use.
DIAGNOSING = re.compile(
    r"you are (lonely|isolated|depressed)|diagnos|disorder|depress|symptom|suffer|patient",
    re.IGNORECASE,
)


def principal(caller) -> Principal:
    return Principal(Role.MEMBER, caller.member_id)


def answer_at(kindred, caller, answers: dict, now: datetime):
    return connection_checkin.answer(kindred.uow(), principal(caller), answers, now=now)


def rows(kindred, member_id: int) -> list[tuple[str, int]]:
    with kindred.uow() as uow:
        return [
            tuple(row)
            for row in uow.session.execute(
                sa.select(ConnectionCheckIn.month, ConnectionCheckIn.score)
                .where(ConnectionCheckIn.member_id == member_id)
                .order_by(ConnectionCheckIn.month)
            )
        ]


def offers(kindred, member_id: int) -> list[str]:
    with kindred.uow() as uow:
        return list(
            uow.session.scalars(
                sa.select(Notification.cycle)
                .where(Notification.member_id == member_id, Notification.kind == "checkin_offer")
                .order_by(Notification.cycle)
            )
        )


@pytest.fixture
def ann(app):
    return sign_up(app, **WITH_CONSENT, **NO_QUIET_HOURS)


# ---------------------------------------------------------------- consent and validation


def test_answering_needs_its_own_consent(app, kindred):
    bob = sign_up(app, email="bob@example.org", display_name="Bob")
    refused = bob.post(PATH, json=LOW)
    assert refused.status_code == 409
    assert refused.json["errors"] == {"connection_checkin": ["consent not given"]}
    assert "consent" in refused.json["message"]
    view = bob.get(PATH).json
    assert view["consent"] is False and view["trend"] == [] and view["this_month"] is None
    assert rows(kindred, bob.member_id) == []
    given = bob.put(
        "/api/v1/members/me/consents",
        json={"matching": True, "peer_introductions": False, "connection_checkin": True},
    )
    assert given.status_code == 200
    assert bob.post(PATH, json=LOW).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"left_out": 1, "isolated": 1}, "lack_companionship"),
        ({**LOW, "left_out": 4}, "left_out"),
        ({**LOW, "isolated": 0}, "isolated"),
        ({**LOW, "isolated": "2"}, "isolated"),
        ({**LOW, "isolated": True}, "isolated"),
        ({**LOW, "left_out": 1.5}, "left_out"),
        ({**LOW, "score": 3}, "score"),
    ],
)
def test_bad_answers_are_refused_naming_the_field(kindred, ann, body, field):
    response = ann.post(PATH, json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"], response.json
    assert rows(kindred, ann.member_id) == []


# ---------------------------------------------------------------- one row a month, own trend


def test_answering_again_in_the_same_month_replaces_the_answers(kindred, ann):
    first = ann.post(PATH, json=LOW)
    assert first.status_code == 201
    assert first.json["replaced"] is False
    again = ann.post(PATH, json=HIGH)
    assert again.status_code == 201 and again.json["replaced"] is True
    assert again.json["month"] == first.json["month"]
    assert set(first.json) == {"month", "answered_at", "replaced"}  # no answers echoed
    month = local_month(datetime.now(UTC), "UTC")
    assert rows(kindred, ann.member_id) == [(month, 6)]
    view = ann.get(PATH).json
    assert view["answered_this_month"] is True
    assert view["this_month"] | {"answered_at": None} == {
        "month": month,
        **HIGH,
        "score": 6,
        "answered_at": None,
    }


def test_the_month_is_the_members_own(app, kindred):
    # 23:30 UTC on 31 March is already April in Auckland (UTC+13).
    kiri = sign_up(app, timezone="Pacific/Auckland", **WITH_CONSENT)
    late = datetime(2031, 3, 31, 23, 30, tzinfo=UTC)
    assert answer_at(kindred, kiri, LOW, late).month == "2031-04"
    assert local_month(late, "UTC") == "2031-03"


def test_answers_at_once_leave_one_row(app, kindred, ann):
    """Two requests of one member in the same instant (a double click): one row, no error."""
    barrier = threading.Barrier(4)
    errors = []

    def answer():
        barrier.wait()
        try:
            answer_at(kindred, ann, HIGH, NOON)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=answer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    unavailable = [e for e in errors if type(e).__name__ == "Unavailable"]  # SQLite's lock
    assert errors == unavailable
    assert rows(kindred, ann.member_id) == [("2031-03", 6)]


def test_the_trend_is_the_members_own_last_twelve_months_oldest_first(app, kindred, ann):
    bob = sign_up(app, email="bob@example.org", display_name="Bob", **WITH_CONSENT)
    for months_ago in range(14, -1, -1):
        moment = NOON - timedelta(days=31 * months_ago)
        answer_at(kindred, ann, {**LOW, "isolated": 1 + months_ago % 3}, moment)
    answer_at(kindred, bob, {"lack_companionship": 3, "left_out": 3, "isolated": 3}, NOON)
    view = ann.get(PATH).json
    months = [m["month"] for m in view["trend"]]
    assert len(months) == 12 and months == sorted(months)
    assert months[-1] == local_month(NOON, "UTC")
    assert all(m["score"] != 9 for m in view["trend"])  # nothing of Bob's
    assert [m["score"] for m in bob.get(PATH).json["trend"]] == [9]


# ---------------------------------------------------------------- where help is found


def test_a_support_note_from_a_score_of_six_and_never_a_diagnosis(kindred, ann):
    answer_at(kindred, ann, LOW, NOON - timedelta(days=40))
    answer_at(kindred, ann, HIGH, NOON)  # the latest counts: 6
    support = ann.get(PATH).json["support"]
    assert support is not None
    text = json.dumps(support)
    for needed in ("doctor", "GP", "findahelpline.com", "emergency number"):
        assert needed in text
    assert not DIAGNOSING.search(text), DIAGNOSING.search(text)
    assert all(place["url"] in (None, "https://findahelpline.com") for place in support["places"])
    answer_at(kindred, ann, LOW, NOON + timedelta(days=31))  # the latest is 5 now
    assert ann.get(PATH).json["support"] is None


def test_the_support_note_links_the_configured_directory(kindred, ann):
    answer_at(kindred, ann, {"lack_companionship": 3, "left_out": 3, "isolated": 3}, NOON)
    note = connection_checkin.my_check_in(
        kindred.uow(), principal(ann), "https://support.example.org/near-you", now=NOON
    ).support
    assert "https://support.example.org/near-you" in [place.url for place in note.places]
    assert not DIAGNOSING.search(note.message + " ".join(p.detail for p in note.places))


# ---------------------------------------------------------------- the monthly offer


def test_the_offer_goes_once_a_month_to_members_who_consented(app, kindred, ann):
    bob = sign_up(app, email="bob@example.org", display_name="Bob", **NO_QUIET_HOURS)
    assert connection_checkin.offer_connection_checkins(kindred, now=NOON) == 1
    assert connection_checkin.offer_connection_checkins(kindred, now=NOON) == 0  # run twice
    later = NOON + timedelta(days=5)
    assert connection_checkin.offer_connection_checkins(kindred, now=later) == 0
    assert offers(kindred, ann.member_id) == ["2031-03"]
    assert offers(kindred, bob.member_id) == []  # no consent, no offer
    note = [
        n for n in ann.get("/api/v1/members/me/notifications").json if n["kind"] == "checkin_offer"
    ]
    assert note[0]["link"] == PATH
    # Next month, once more.
    april = datetime(2031, 4, 14, 12, 0, tzinfo=UTC)
    with kindred.uow() as uow:  # March's offer is out of the rolling budget week by then
        uow.session.execute(sa.update(Notification).values(created_at=NOON))
        uow.commit()
    assert connection_checkin.offer_connection_checkins(kindred, now=april) == 1
    assert offers(kindred, ann.member_id) == ["2031-03", "2031-04"]


def test_each_member_is_offered_their_own_month_at_a_months_turn(app, kindred, ann):
    kiri = sign_up(app, email="kiri@example.org", timezone="Pacific/Auckland", **NO_QUIET_HOURS,
                   **WITH_CONSENT)  # fmt: skip
    turn = datetime(2031, 3, 31, 23, 30, tzinfo=UTC)  # 12:30 on 1 April in Auckland
    answer_at(kindred, kiri, LOW, turn - timedelta(hours=13))  # 23:30 on 31 March there
    assert connection_checkin.offer_connection_checkins(kindred, now=turn) == 2
    assert offers(kindred, ann.member_id) == ["2031-03"]
    assert offers(kindred, kiri.member_id) == ["2031-04"]


def test_no_offer_once_the_month_is_answered(kindred, ann):
    answer_at(kindred, ann, LOW, NOON - timedelta(hours=2))
    assert connection_checkin.offer_connection_checkins(kindred, now=NOON) == 0
    assert offers(kindred, ann.member_id) == []


def test_the_offer_waits_for_nine_oclock_and_the_end_of_quiet_hours(app, kindred):
    cy = sign_up(app, quiet_hours_start="11:00", quiet_hours_end="14:00", **WITH_CONSENT)
    day = NOON.replace(hour=0)
    assert connection_checkin.offer_connection_checkins(kindred, now=day.replace(hour=8)) == 0
    assert connection_checkin.offer_connection_checkins(kindred, now=day.replace(hour=12)) == 0
    assert connection_checkin.offer_connection_checkins(kindred, now=day.replace(hour=15)) == 1
    assert offers(kindred, cy.member_id) == ["2031-03"]


def test_the_offer_stays_within_the_weekly_budget(app, kindred):
    # A budget of one is the digest's own slot: no room for nudges at all.
    dee = sign_up(app, max_notifications_per_week=1, **NO_QUIET_HOURS, **WITH_CONSENT)
    assert connection_checkin.offer_connection_checkins(kindred, now=NOON) == 0
    # A budget of two, already spent on a reminder this week.
    eve = sign_up(
        app, email="eve@example.org", max_notifications_per_week=2, **NO_QUIET_HOURS,
        **WITH_CONSENT,
    )  # fmt: skip
    with kindred.uow() as uow:
        uow.session.add(
            Notification(member_id=eve.member_id, kind="reminder", subject="listing:1",
                         cycle="2031-03-12", title="Tomorrow", body="...", created_at=NOON)
        )  # fmt: skip
        uow.commit()
    assert connection_checkin.offer_connection_checkins(kindred, now=NOON + timedelta(hours=1)) == 0
    assert offers(kindred, dee.member_id) == offers(kindred, eve.member_id) == []
    # A week on, the reminder has left the rolling week: the offer goes.
    assert connection_checkin.offer_connection_checkins(kindred, now=NOON + timedelta(days=8)) == 1


# ---------------------------------------------------------------- withdrawal, export, erasure


def test_withdrawing_the_consent_deletes_the_answers_and_stops_the_offers(kindred, ann):
    answer_at(kindred, ann, LOW, NOON - timedelta(days=40))
    answer_at(kindred, ann, HIGH, NOON)
    other_consents = {"matching": True, "peer_introductions": True}
    kept = ann.put("/api/v1/members/me/consents", json=other_consents)  # checkin not named
    assert kept.status_code == 200 and len(rows(kindred, ann.member_id)) == 2
    withdrawn = ann.put(
        "/api/v1/members/me/consents", json={**other_consents, "connection_checkin": False}
    )
    assert withdrawn.status_code == 200
    assert rows(kindred, ann.member_id) == []
    later = NOON + timedelta(days=31)
    assert connection_checkin.offer_connection_checkins(kindred, now=later) == 0
    assert ann.post(PATH, json=LOW).status_code == 409
    history = ann.get("/api/v1/members/me/export").json["consent_history"]
    assert [r["granted"] for r in history if r["purpose"] == "connection_checkin"] == [True, False]


def test_answers_are_exported_and_erased_with_the_member(kindred, ann):
    answer_at(kindred, ann, HIGH, NOON)
    export = ann.get("/api/v1/members/me/export").json
    assert [
        (c["month"], c["lack_companionship"], c["left_out"], c["isolated"], c["score"])
        for c in export["connection_checkins"]
    ] == [("2031-03", 2, 2, 2, 6)]
    assert ann.delete("/api/v1/members/me").status_code == 204
    with kindred.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(ConnectionCheckIn)) == 0


def test_logs_carry_ids_only(kindred, ann, caplog):
    caplog.set_level("INFO")
    answer_at(kindred, ann, {"lack_companionship": 3, "left_out": 3, "isolated": 3}, NOON)
    connection_checkin.offer_connection_checkins(kindred, now=NOON + timedelta(days=31))
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "connection check-in" in text
    assert not re.search(r"score|lack|left_out|isolated", text)


def test_the_use_case_refuses_without_consent_too(app, kindred):
    bob = sign_up(app, email="bob@example.org", display_name="Bob")
    with pytest.raises(Conflict):
        answer_at(kindred, bob, LOW, NOON)


# ---------------------------------------------------------------- nobody else ever sees them

# Member A's answers: three months of distinctive scores, one with a distinctive time.
A_MONTHS = [
    (datetime(2026, 6, 14, 7, 13, 29, 417263, tzinfo=UTC), {"lack_companionship": 3,
     "left_out": 3, "isolated": 2}),
    (datetime(2026, 7, 14, 12, 0, tzinfo=UTC), {"lack_companionship": 3, "left_out": 2,
     "isolated": 2}),
]  # fmt: skip
A_TIME = "07:13:29"
QUESTION_WORDS = re.compile(r"lack companionship|feel left out|isolated from others", re.I)
# The title of the trend chart: on a page only when that page's member has answers.
CHART_WORDS = re.compile(r"check-in score", re.IGNORECASE)
OTHERS = ("anonymous", "other_member", "partner", "other_partner", "coordinator")


def checkin_values(document) -> list[str]:
    """Answer items or an integer score (3 to 9) anywhere in a JSON document. Suggestion scores
    are fractions in [0, 1], so an integer score there is a check-in's."""
    found = []
    if isinstance(document, dict):
        for key, value in document.items():
            is_int = isinstance(value, int) and not isinstance(value, bool)
            if key in connection_checkin.ITEMS and is_int:
                found.append(f"{key}={value}")
            if key == "score" and is_int and 3 <= value <= 9:
                found.append(f"score={value}")
            found += checkin_values(value)
    elif isinstance(document, list):
        for item in document:
            found += checkin_values(item)
    return found


def shown(response, caller: str, template: str = "") -> list[str]:
    text = response.get_data(as_text=True)
    found = checkin_values(response.get_json(silent=True)) if response.is_json else []
    found += [A_TIME] if A_TIME in text else []
    found += [m.group(0) for m in CHART_WORDS.finditer(text)]
    # A member's own check-in page names the questions, and so does the API's description.
    if caller != "other_member" and template != "/openapi.json":
        found += [m.group(0) for m in QUESTION_WORDS.finditer(text)]
    return found


def test_check_in_answers_never_appear_in_any_response_to_anyone_but_the_member(world):  # noqa: F811
    member_a = Principal(Role.MEMBER, world.ids["member"])
    for moment, answers in A_MONTHS:
        connection_checkin.answer(world.kindred.uow(), member_a, answers, now=moment)
    # Answered this month too, through the API, and offered (an inbox note for A).
    assert world.doors["member"].api.post(PATH, json=HIGH).status_code == 201
    connection_checkin.offer_connection_checkins(world.kindred, now=datetime.now(UTC))

    gets = sorted(t for method, t in served_routes(world.app) if method == "GET")
    assert PATH in gets and "/me/check-in" in gets
    # The search finds A's answers where A may see them.
    mine = {t: shown(world.call("GET", t, "member"), "member") for t in (PATH, "/me/check-in")}
    assert "score=8" in mine[PATH] and A_TIME in mine[PATH], mine
    assert "check-in score" in " ".join(mine["/me/check-in"]).lower(), mine
    export = world.doors["member"].api.get("/api/v1/members/me/export")
    assert "score=8" in shown(export, "member")

    leaked = {}
    for template in gets:
        for caller in OTHERS:
            response = world.call("GET", template, caller)
            found = shown(response, caller, template)
            response.close()
            if found:
                leaked[(template, caller)] = found
    assert leaked == {}
    # B's own check-in holds nothing of A's.
    view = world.doors["other_member"].api.get(PATH).json
    assert view["trend"] == [] and view["this_month"] is None
