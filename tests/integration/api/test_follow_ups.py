"""Keep-in-touch follow-ups with a real database and real Redis: each fires once on its day, in
the member's daytime, within their budget (else in their digest), and never after a no.

The follow-up job takes the current instant as an argument, so most tests run it on the day
they need. The introduction, the yes and the first session are rows set in the past, as the
pipeline leaves them (see test_matches_pipeline for how they are made).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.adapters.orm import (
    FollowUp,
    Introduction,
    Listing,
    Notification,
    SessionAttendance,
    Suggestion,
    WeeklyRound,
    utcnow,
)
from service.domain.rhythm import local_week
from service.domain.vocabulary import (
    Direction,
    IntroductionStatus,
    ListingKind,
    SuggestionStatus,
)
from service.services import follow_ups, notifications, rhythm
from tests.integration.api.conftest import listing_body, run_worker, sign_up
from tests.integration.api.test_matches_pipeline import jobs_use_this_service  # noqa: F401
from tests.support import group_suggestion

pytestmark = pytest.mark.usefixtures("jobs_use_this_service")

NO_QUIET_HOURS = {"quiet_hours_start": "00:00", "quiet_hours_end": "00:00"}
# A Monday at noon UTC, well after every row the tests date before it.
MONDAY_NOON = datetime(2031, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def garden_club(verified_partner, kindred) -> int:
    response = verified_partner.post(
        "/api/v1/listings", json=listing_body(title="Gentle garden club", direction="receive")
    )
    assert response.status_code == 201, response.json
    run_worker(kindred)  # its fan-out, before any member exists
    return response.json["id"]


def first_session_on(kindred, listing_id: int, starts: datetime) -> None:
    """The listing's timetable: one session at `starts` and one a week after each, so there
    is always a next one to name."""
    sessions = [
        {"starts_at": (starts + timedelta(weeks=week)).isoformat(), "minutes": 90}
        for week in range(6)
    ]
    with kindred.uow() as uow:
        listing = uow.session.get(Listing, listing_id)
        listing.sessions, listing.weekly_slots = sessions, []
        uow.commit()


def said_yes(kindred, member_id: int, listing_id: int, answered_at: datetime) -> int:
    with kindred.uow() as uow:
        suggestion = group_suggestion(
            member_id,
            listing_id,
            "2031-W01",
            status=SuggestionStatus.YES,
            answered_at=answered_at,
        )
        uow.session.add(suggestion)
        uow.commit()
        return suggestion.id


def introduced(kindred, one: int, other: int, at: datetime) -> int:
    """An introduction as the pipeline makes it: both consented to introductions."""
    with kindred.uow() as uow:
        for member_id in (one, other):
            uow.members.get(member_id).consent_peer_introductions = True
        pair = Introduction(
            member_low_id=min(one, other),
            member_high_id=max(one, other),
            status=IntroductionStatus.INTRODUCED,
            introduced_at=at,
        )
        uow.session.add(pair)
        uow.commit()
        return pair.id


def both_went(kindred, members, listing_id: int, day) -> None:
    with kindred.uow() as uow:
        for member in members:
            uow.session.add(
                SessionAttendance(
                    member_id=member.member_id,
                    listing_id=listing_id,
                    session_on=day,
                    recorded_by="member",
                )
            )
        uow.commit()


def follow_up_notes(member) -> list[dict]:
    return [
        note
        for note in member.get("/api/v1/members/me/notifications").json
        if note["kind"] == "follow_up"
    ]


def rows(kindred) -> list[tuple[int, str, int, str]]:
    with kindred.uow() as uow:
        columns = (FollowUp.member_id, FollowUp.subject, FollowUp.step, FollowUp.delivered_by)
        return [
            tuple(row) for row in uow.session.execute(sa.select(*columns).order_by(FollowUp.id))
        ]


@pytest.fixture
def ann_said_yes(app, kindred, garden_club):
    """Ann said yes two days before the garden club's first session, ten days before Monday."""
    ann = sign_up(app, **NO_QUIET_HOURS)
    first = MONDAY_NOON - timedelta(days=7, hours=2)  # Monday 10:00 a week before
    first_session_on(kindred, garden_club, first)
    said_yes(kindred, ann.member_id, garden_club, first - timedelta(days=2))
    return ann


# ---------------------------------------------------------------- on its day, once


def test_a_follow_up_fires_once_on_its_day_and_again_three_weeks_on(kindred, ann_said_yes):
    ann = ann_said_yes
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON - timedelta(days=1)) == 0
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON) == 1
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(hours=3)) == 0  # once
    next_morning = MONDAY_NOON + timedelta(days=1, hours=-2)  # still within its two days
    assert follow_ups.send_follow_ups(kindred, now=next_morning) == 0

    (note,) = follow_up_notes(ann)
    assert note["title"] == "Keep in touch: Gentle garden club"
    # She has not said she went: the next session, gently, and that not going is fine.
    assert note["body"].startswith("Gentle garden club meets again on Monday 10 March.")
    assert "if not, that is fine" in note["body"]

    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(days=13)) == 0
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(days=14)) == 1
    assert [step for _, _, step, _ in rows(kindred)] == [1, 2]
    assert len(follow_up_notes(ann)) == 2


def test_a_follow_up_missed_for_more_than_two_days_is_not_sent_late(kindred, ann_said_yes):
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(days=3)) == 0
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(days=2)) == 1


def test_after_a_visit_the_step_is_to_thank_the_host_or_volunteer_again(
    app, kindred, verified_partner, ann_said_yes, garden_club
):
    ann = ann_said_yes
    with kindred.uow() as uow:
        uow.session.add(
            SessionAttendance(
                member_id=ann.member_id,
                listing_id=garden_club,
                session_on=(MONDAY_NOON - timedelta(days=7)).date(),
                recorded_by="member",
            )
        )
        uow.commit()
    follow_ups.send_follow_ups(kindred, now=MONDAY_NOON)
    (note,) = follow_up_notes(ann)
    assert note["body"].startswith(
        "Thank the host of Gentle garden club, and try the next session on Monday 10 March."
    )
    with kindred.uow() as uow:
        uow.session.get(Listing, garden_club).direction = Direction.GIVE
        uow.commit()
    follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(days=14))
    assert any(
        note["body"].startswith(
            "Volunteer once more: Gentle garden club meets again on Monday 24 March."
        )
        for note in follow_up_notes(ann)
    )


# ---------------------------------------------------------------- the member's day and budget


def test_follow_ups_wait_for_the_members_daytime(app, kindred, garden_club):
    ann = sign_up(app, quiet_hours_start="11:00", quiet_hours_end="14:00")
    first = MONDAY_NOON - timedelta(days=7, hours=2)
    first_session_on(kindred, garden_club, first)
    said_yes(kindred, ann.member_id, garden_club, first - timedelta(days=2))
    monday = MONDAY_NOON.replace(hour=0)
    assert follow_ups.send_follow_ups(kindred, now=monday.replace(hour=8, minute=30)) == 0  # early
    assert follow_ups.send_follow_ups(kindred, now=monday.replace(hour=12)) == 0  # quiet hours
    assert follow_ups.send_follow_ups(kindred, now=monday.replace(hour=14, minute=5)) == 1


def test_the_day_is_the_members_own(app, kindred, garden_club):
    # 12:00 UTC on Sunday is already Monday 01:00 in Auckland; Monday 09:00 there is Sunday
    # 20:00 UTC.
    kiri = sign_up(app, timezone="Pacific/Auckland", **NO_QUIET_HOURS)
    first = MONDAY_NOON - timedelta(days=7, hours=2)
    first_session_on(kindred, garden_club, first)
    said_yes(kindred, kiri.member_id, garden_club, first - timedelta(days=2))
    sunday = MONDAY_NOON - timedelta(days=1)
    assert follow_ups.send_follow_ups(kindred, now=sunday) == 0  # 01:00 on her Monday
    assert follow_ups.send_follow_ups(kindred, now=sunday + timedelta(hours=8, minutes=5)) == 1


def test_one_follow_up_a_day(app, kindred, ann_said_yes, garden_club):
    ann = ann_said_yes
    bea = sign_up(app, email="bea@example.org", display_name="Bea", **NO_QUIET_HOURS)
    introduced(kindred, ann.member_id, bea.member_id, MONDAY_NOON - timedelta(days=7, hours=1))
    # Ann has two due today (Bea and the garden club): one today, the other tomorrow.
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON) == 2  # Ann's first, and Bea's
    assert [note["title"] for note in follow_up_notes(ann)] == ["Keep in touch with Bea"]
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(hours=4)) == 0
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(days=1)) == 1
    assert len(follow_up_notes(ann)) == 2


def test_follow_ups_stay_within_the_weekly_budget(app, kindred, garden_club):
    # A budget of two: one slot for the digest, one for a nudge.
    ann = sign_up(app, max_notifications_per_week=2, **NO_QUIET_HOURS)
    bea = sign_up(app, email="bea@example.org", display_name="Bea", **NO_QUIET_HOURS)
    first = MONDAY_NOON - timedelta(days=7, hours=2)
    first_session_on(kindred, garden_club, first)
    said_yes(kindred, ann.member_id, garden_club, first - timedelta(days=2))
    introduced(kindred, ann.member_id, bea.member_id, MONDAY_NOON - timedelta(days=7, hours=1))
    follow_ups.send_follow_ups(kindred, now=MONDAY_NOON)
    assert len(follow_up_notes(ann)) == 1
    with kindred.uow() as uow:  # sent on that Monday, as far as the rolling week goes
        uow.session.execute(sa.update(Notification).values(created_at=MONDAY_NOON))
        uow.commit()
    for days in (1, 2, 3):  # her one nudge is spent: the garden club's waits for the digest
        assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(days=days)) == 0
    assert len(follow_up_notes(ann)) == 1


def midday_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon at `now`, so daytime is not what the test
    depends on (Etc/GMT-5 is UTC+5)."""
    offset = 12 - now.hour
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def test_without_room_in_the_budget_the_digest_carries_it(app, kindred, garden_club):
    """Real time here: the digest job works out its own day."""
    now = utcnow()
    ann = sign_up(
        app,
        max_notifications_per_week=1,
        timezone=midday_zone(now),
        consents={"matching": True, "peer_introductions": False},
        **NO_QUIET_HOURS,
    )
    first = now - timedelta(days=7, hours=1)
    first_session_on(kindred, garden_club, first)
    said_yes(kindred, ann.member_id, garden_club, first - timedelta(days=2))
    assert follow_ups.send_follow_ups(kindred, now=now) == 0  # a budget of one is the digest's
    assert follow_up_notes(ann) == []

    with kindred.uow() as uow:  # her round this week, as the scheduler starts it
        uow.members.get(ann.member_id).created_at = now - timedelta(days=30)
        uow.commit()
    rhythm._start_rounds(kindred, [(ann.member_id, local_week(now, midday_zone(now)))])
    run_worker(kindred)
    with kindred.uow() as uow:
        assert uow.session.scalar(sa.select(WeeklyRound.digest)) == "sent"
    digest = next(
        n for n in ann.get("/api/v1/members/me/notifications").json if n["kind"] == "digest"
    )
    assert "One small step: Gentle garden club meets again on " in digest["body"]
    assert digest["body"].count("One small step") == 1
    assert rows(kindred) == [(ann.member_id, f"listing:{garden_club}", 1, "digest")]
    assert follow_ups.send_follow_ups(kindred, now=now + timedelta(hours=1)) == 0  # gone once


# ---------------------------------------------------------------- introductions


def test_after_an_introduction_each_gets_a_note_naming_the_other(app, kindred, garden_club):
    ann = sign_up(app, **NO_QUIET_HOURS)
    bea = sign_up(app, email="bea@example.org", display_name="Bea", **NO_QUIET_HOURS)
    introduced(kindred, ann.member_id, bea.member_id, MONDAY_NOON - timedelta(days=7, hours=1))
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON) == 2
    (to_ann,) = follow_up_notes(ann)
    (to_bea,) = follow_up_notes(bea)
    assert to_ann["title"] == "Keep in touch with Bea"
    assert "You and Bea were introduced a week ago" in to_ann["body"]
    assert to_bea["title"] == "Keep in touch with Ann"


def test_people_who_went_to_the_same_session_are_reminded_where_they_met(app, kindred, garden_club):
    ann = sign_up(app, **NO_QUIET_HOURS)
    bea = sign_up(app, email="bea@example.org", display_name="Bea", **NO_QUIET_HOURS)
    introduced(kindred, ann.member_id, bea.member_id, MONDAY_NOON - timedelta(days=7, hours=1))
    saturday = (MONDAY_NOON - timedelta(days=2)).date()
    both_went(kindred, (ann, bea), garden_club, saturday)
    follow_ups.send_follow_ups(kindred, now=MONDAY_NOON)
    (note,) = follow_up_notes(ann)
    assert note["body"].startswith("You and Bea were both at Gentle garden club; send them a note?")


# ---------------------------------------------------------------- no nagging


def test_not_for_me_ends_that_subjects_follow_ups(kindred, ann_said_yes):
    ann = ann_said_yes
    follow_ups.send_follow_ups(kindred, now=MONDAY_NOON)
    (sent,) = ann.get("/api/v1/members/me/follow-ups").json["follow_ups"]
    replied = ann.post(
        f"/api/v1/members/me/follow-ups/{sent['id']}/reply", json={"reply": "not_for_me"}
    )
    assert replied.status_code == 200, replied.json
    assert replied.json["reply"] == "not_for_me" and replied.json["name"] == "Gentle garden club"
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(days=14)) == 0


def test_a_no_to_the_listing_or_a_closed_introduction_means_no_follow_up(
    app, kindred, ann_said_yes
):
    ann = ann_said_yes
    bea = sign_up(app, email="bea@example.org", display_name="Bea", **NO_QUIET_HOURS)
    pair = introduced(
        kindred, ann.member_id, bea.member_id, MONDAY_NOON - timedelta(days=7, hours=1)
    )
    with kindred.uow() as uow:
        uow.session.execute(sa.update(Suggestion).values(status=SuggestionStatus.NO))
        uow.session.get(Introduction, pair).status = IntroductionStatus.CLOSED
        uow.commit()
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON) == 0
    assert follow_up_notes(ann) == [] and follow_up_notes(bea) == []


def test_members_can_turn_follow_ups_off_or_snooze_them(kindred, ann_said_yes):
    ann = ann_said_yes
    off = ann.patch("/api/v1/members/me/follow-ups", json={"enabled": False})
    assert off.status_code == 200 and off.json == {"enabled": False, "snoozed_until": None}
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON) == 0

    ann.patch("/api/v1/members/me/follow-ups", json={"enabled": True, "snooze_days": 90})
    settings = ann.get("/api/v1/members/me/follow-ups").json["settings"]
    assert settings["enabled"] is True and settings["snoozed_until"] is not None
    with kindred.uow() as uow:  # snoozed until the day after the follow-up's day
        uow.members.get(ann.member_id).follow_ups_snoozed_until = MONDAY_NOON + timedelta(days=1)
        uow.commit()
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON) == 0
    # The snooze over, what is still within its two days goes out.
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(days=1, hours=1)) == 1

    ended = ann.patch("/api/v1/members/me/follow-ups", json={"snooze_days": 0})
    assert ended.json["snoozed_until"] is None


# ---------------------------------------------------------------- the API's edges


def test_bad_settings_and_replies_are_refused_naming_the_field(kindred, ann_said_yes):
    ann = ann_said_yes
    for body, field in (
        ({}, "enabled"),
        ({"snooze_days": 91}, "snooze_days"),
        ({"snooze_days": "soon"}, "snooze_days"),
        ({"enabled": "yes"}, "enabled"),
    ):
        refused = ann.patch("/api/v1/members/me/follow-ups", json=body)
        assert refused.status_code == 422 and field in refused.json["errors"], (body, refused.json)
    follow_ups.send_follow_ups(kindred, now=MONDAY_NOON)
    (sent,) = ann.get("/api/v1/members/me/follow-ups").json["follow_ups"]
    refused = ann.post(f"/api/v1/members/me/follow-ups/{sent['id']}/reply", json={"reply": "meh"})
    assert refused.status_code == 422 and "reply" in refused.json["errors"]


def test_a_follow_up_answers_only_to_its_member(app, kindred, ann_said_yes):
    follow_ups.send_follow_ups(kindred, now=MONDAY_NOON)
    (sent,) = ann_said_yes.get("/api/v1/members/me/follow-ups").json["follow_ups"]
    bea = sign_up(app, email="bea@example.org", display_name="Bea")
    assert bea.get("/api/v1/members/me/follow-ups").json["follow_ups"] == []
    stolen = bea.post(
        f"/api/v1/members/me/follow-ups/{sent['id']}/reply", json={"reply": "kept_in_touch"}
    )
    assert stolen.status_code == 404
    with kindred.uow() as uow:
        assert uow.session.scalar(sa.select(FollowUp.reply)) is None


# ---------------------------------------------------------------- privacy


def test_follow_ups_are_exported_and_go_with_an_erased_peer(app, kindred, garden_club):
    ann = sign_up(app, **NO_QUIET_HOURS)
    bea = sign_up(app, email="bea@example.org", display_name="Bea", **NO_QUIET_HOURS)
    introduced(kindred, ann.member_id, bea.member_id, MONDAY_NOON - timedelta(days=7, hours=1))
    follow_ups.send_follow_ups(kindred, now=MONDAY_NOON)
    (sent,) = ann.get("/api/v1/members/me/follow-ups").json["follow_ups"]
    ann.post(f"/api/v1/members/me/follow-ups/{sent['id']}/reply", json={"reply": "kept_in_touch"})
    exported = ann.get("/api/v1/members/me/export").json["follow_ups"]
    assert [(f["step"], f["reply"], f["delivered_by"]) for f in exported] == [
        (1, "kept_in_touch", "notification")
    ]

    assert bea.delete("/api/v1/members/me").status_code == 204
    run_worker(kindred)
    # Ann's note named Bea: it goes, and so does the follow-up row.
    assert follow_up_notes(ann) == []
    assert ann.get("/api/v1/members/me/follow-ups").json["follow_ups"] == []


def test_a_digest_that_carries_an_introductions_step_names_nobody(app, kindred, garden_club):
    """A digest is not erased with the people it would mention: its step names nobody, and
    after the peer's erasure no notification of Ann's holds Bea's name."""
    now = utcnow()
    zone = midday_zone(now)
    ann = sign_up(app, max_notifications_per_week=1, timezone=zone, **NO_QUIET_HOURS)
    bea = sign_up(app, email="bea@example.org", display_name="Beatrix", **NO_QUIET_HOURS)
    introduced(kindred, ann.member_id, bea.member_id, now - timedelta(days=7, hours=1))
    first_session_on(kindred, garden_club, now + timedelta(days=3))
    said_yes(kindred, ann.member_id, garden_club, now - timedelta(days=1))
    with kindred.uow() as uow:
        uow.members.get(ann.member_id).created_at = now - timedelta(days=30)
        uow.commit()
    rhythm._start_rounds(kindred, [(ann.member_id, local_week(now, zone))])
    run_worker(kindred)
    notes = ann.get("/api/v1/members/me/notifications").json
    (digest,) = [note for note in notes if note["kind"] == "digest"]
    assert (
        "One small step: Send a short hello to the person you were introduced to"
        in (digest["body"])
    )
    assert "Beatrix" not in digest["body"]

    assert bea.delete("/api/v1/members/me").status_code == 204
    run_worker(kindred)
    with kindred.uow() as uow:
        texts = uow.session.execute(
            sa.select(Notification.title, Notification.body).where(
                Notification.member_id == ann.member_id
            )
        ).all()
    assert texts and not any("Beatrix" in f"{title} {body}" for title, body in texts)


def test_either_sides_not_for_me_ends_an_introductions_follow_ups(app, kindred, garden_club):
    ann = sign_up(app, **NO_QUIET_HOURS)
    bea = sign_up(app, email="bea@example.org", display_name="Bea", **NO_QUIET_HOURS)
    introduced(kindred, ann.member_id, bea.member_id, MONDAY_NOON - timedelta(days=7, hours=1))
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON) == 2
    (to_bea,) = bea.get("/api/v1/members/me/follow-ups").json["follow_ups"]
    bea.post(f"/api/v1/members/me/follow-ups/{to_bea['id']}/reply", json={"reply": "not_for_me"})
    # Three weeks on, Ann is not nudged towards Bea either.
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(days=14)) == 0
    assert len(follow_up_notes(ann)) == 1


def test_no_introduction_follow_ups_once_either_withdraws_introductions(app, kindred, garden_club):
    ann = sign_up(app, **NO_QUIET_HOURS)
    bea = sign_up(app, email="bea@example.org", display_name="Bea", **NO_QUIET_HOURS)
    introduced(kindred, ann.member_id, bea.member_id, MONDAY_NOON - timedelta(days=7, hours=1))
    withdrawn = bea.put(
        "/api/v1/members/me/consents", json={"matching": True, "peer_introductions": False}
    )
    assert withdrawn.status_code == 200, withdrawn.json
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON) == 0
    assert follow_up_notes(ann) == [] and follow_up_notes(bea) == []


def test_a_late_follow_up_says_recently_and_a_support_group_is_not_named(app, kindred, garden_club):
    ann = sign_up(app, **NO_QUIET_HOURS)
    bea = sign_up(app, email="bea@example.org", display_name="Bea", **NO_QUIET_HOURS)
    introduced(kindred, ann.member_id, bea.member_id, MONDAY_NOON - timedelta(days=7, hours=1))
    saturday = (MONDAY_NOON - timedelta(days=2)).date()
    with kindred.uow() as uow:
        uow.session.get(Listing, garden_club).kind = ListingKind.SUPPORT_GROUP
        uow.commit()
    both_went(kindred, (ann, bea), garden_club, saturday)
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON + timedelta(days=1)) == 2
    (note,) = follow_up_notes(ann)
    assert note["body"].startswith("You and Bea were introduced recently: send a short note")
    assert "garden club" not in note["body"]


def test_without_a_next_session_the_step_names_no_date(kindred, ann_said_yes, garden_club):
    with kindred.uow() as uow:  # the timetable ends with the first session
        listing = uow.session.get(Listing, garden_club)
        listing.sessions = listing.sessions[:1]
        uow.commit()
    assert follow_ups.send_follow_ups(kindred, now=MONDAY_NOON) == 1
    (note,) = follow_up_notes(ann_said_yes)
    assert note["body"].startswith(
        "If Gentle garden club still appeals, ask the host when it meets next; "
        "if not, that is fine."
    )


def test_the_day_is_counted_on_the_members_calendar_across_a_clock_change(
    app, kindred, garden_club
):
    """A session at 23:30 on Saturday 29 March 2031 in London (GMT); the clocks go forward
    that night. A week later is Saturday 5 April, though 7 x 24 hours later is already
    Sunday 00:30 there."""
    ann = sign_up(app, timezone="Europe/London", **NO_QUIET_HOURS)
    first = datetime(2031, 3, 29, 23, 30, tzinfo=UTC)
    first_session_on(kindred, garden_club, first)
    with kindred.uow() as uow:
        uow.session.get(Listing, garden_club).timezone = "Europe/London"
        uow.commit()
    said_yes(kindred, ann.member_id, garden_club, first - timedelta(days=2))
    assert follow_ups.send_follow_ups(kindred, now=datetime(2031, 4, 5, 12, tzinfo=UTC)) == 1
    assert rows(kindred)[0][2] == 1
    with kindred.uow() as uow:
        assert uow.session.scalar(sa.select(FollowUp.due_on)).isoformat() == "2031-04-05"


def test_not_for_me_to_a_listing_ends_its_reminders_and_digest_mentions(
    kindred, ann_said_yes, garden_club
):
    ann = ann_said_yes
    follow_ups.send_follow_ups(kindred, now=MONDAY_NOON)
    (sent,) = ann.get("/api/v1/members/me/follow-ups").json["follow_ups"]
    ann.post(f"/api/v1/members/me/follow-ups/{sent['id']}/reply", json={"reply": "not_for_me"})
    # The next session is Monday 10 March at 10:00: a day ahead would be its reminder.
    assert rhythm.send_reminders(kindred, now=MONDAY_NOON + timedelta(days=6, hours=1)) == 0
    with kindred.uow() as uow:
        member = uow.members.get(ann.member_id)
        assert follow_ups.declined_by(uow, member.id) == {f"listing:{garden_club}"}


def test_a_follow_up_job_racing_a_digest_records_the_step_once(app, kindred, garden_club):
    """The digest works out what is due; before it records the step, a follow-up run sends
    and commits the same one. The digest's insert fails on the unique row, inside a savepoint:
    the digest goes on without a step and the follow-up is recorded once."""
    ann = sign_up(app, **NO_QUIET_HOURS)
    first = MONDAY_NOON - timedelta(days=7, hours=2)
    first_session_on(kindred, garden_club, first)
    said_yes(kindred, ann.member_id, garden_club, first - timedelta(days=2))
    raced = []

    with kindred.uow() as digest_uow:
        member = digest_uow.members.get(ann.member_id)

        @sa.event.listens_for(digest_uow.session, "before_flush")
        def follow_up_job_runs_now(session, *_):
            if not raced:
                raced.append(follow_ups.send_follow_ups(kindred, now=MONDAY_NOON))

        step = follow_ups.step_for_digest(digest_uow, member, MONDAY_NOON)
        digest_uow.commit()
    assert raced == [1]
    assert step is None
    assert rows(kindred) == [(ann.member_id, f"listing:{garden_club}", 1, "notification")]


def test_a_follow_up_email_says_how_to_answer_it():
    email = notifications._email_text(
        Notification(kind="follow_up", body="Thank the host of the garden club.")
    )
    assert 'Open kindred\'s "Going back" page to say you kept in touch' in email
    assert "answer yes, no or later" not in email
    assert "answer yes, no or later" in notifications._email_text(
        Notification(kind="new_listing", body="A new group.")
    )
