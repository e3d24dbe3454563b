"""The weekly rhythm with real Redis, real workers and a real database: weekly rounds and digests
on each member's day, reminders before sessions, the notification budget and quiet hours.

The scheduler's jobs take the current instant as an argument, so each test runs at the hour it
needs; everything else (workers, the outbox, the email sink) runs as it does in production.
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from service.adapters.orm import (
    Notification,
    NotificationDelivery,
    OutboxEvent,
    WeeklyRound,
    utcnow,
)
from service.adapters.publisher import job_id
from service.domain.rhythm import digest_moment, local_week, next_session
from service.services import rhythm
from tests.integration.api.conftest import listing_body, run_worker, sign_up
from workers import context
from workers.maintenance import sweep_outbox

CONSENTING = {"consents": {"matching": True, "peer_introductions": False}, "digest_day": "wed"}
SATURDAY_MORNINGS = [{"day": "sat", "start": "10:00", "minutes": 90}]


@pytest.fixture(autouse=True)
def jobs_use_this_service(kindred):
    context.use(kindred)


@pytest.fixture
def garden_club(verified_partner, kindred) -> int:
    response = verified_partner.post(
        "/api/v1/listings", json=listing_body(weekly_slots=SATURDAY_MORNINGS)
    )
    assert response.status_code == 201, response.json
    run_worker(kindred)  # its fan-out, before any member exists
    return response.json["id"]


def wednesday_digest_time() -> datetime:
    """09:00 UTC on the Wednesday of next week: after every member in these tests joined."""
    return digest_moment(utcnow() + timedelta(days=7), "UTC", "wed")


def inbox_kinds(member) -> list[str]:
    return [n["kind"] for n in member.get("/api/v1/members/me/notifications").json]


def rounds(kindred) -> list[tuple[int, str, str]]:
    with kindred.uow() as uow:
        columns = (WeeklyRound.member_id, WeeklyRound.cycle, WeeklyRound.digest)
        return [tuple(row) for row in uow.session.execute(sa.select(*columns))]


# ---------------------------------------------------------------- weekly rounds and the digest


def test_the_weekly_round_rematches_and_sends_one_digest_on_the_members_day(
    app, kindred, garden_club
):
    ann = sign_up(app, **CONSENTING)
    due = wednesday_digest_time()
    assert rhythm.start_weekly_rounds(kindred, now=due - timedelta(minutes=1)) == 0

    assert rhythm.start_weekly_rounds(kindred, now=due + timedelta(minutes=1)) == 1
    run_worker(kindred)

    assert rounds(kindred) == [(ann.member_id, local_week(due, "UTC"), "sent")]
    (digest,) = ann.get("/api/v1/members/me/notifications").json
    assert digest["kind"] == "digest"  # the weekly match sends the digest, not a "ready" note
    assert "This week: 1 new group." in digest["body"]
    assert "Have a look at Gentle garden club: it " in digest["body"]
    assert [
        s["listing"]["id"] for s in ann.get("/api/v1/members/me/suggestions").json["groups"]
    ] == [garden_club]


def test_a_restarted_scheduler_neither_repeats_nor_skips_a_week(app, kindred, garden_club):
    ann = sign_up(app, **CONSENTING)
    due = wednesday_digest_time()
    assert rhythm.start_weekly_rounds(kindred, now=due + timedelta(minutes=1)) == 1
    # The scheduler keeps nothing: a new run later that week (after a restart, or overlapping
    # the first) finds the week done in the database.
    assert rhythm.start_weekly_rounds(kindred, now=due + timedelta(hours=5)) == 0
    assert rhythm._start_rounds(kindred, [(ann.member_id, local_week(due, "UTC"))]) == 0
    run_worker(kindred)
    assert inbox_kinds(ann) == ["digest"]

    next_week = due + timedelta(days=7, minutes=1)
    assert rhythm.start_weekly_rounds(kindred, now=next_week) == 1
    assert [week for _, week, _ in rounds(kindred)] == [
        local_week(due, "UTC"),
        local_week(next_week, "UTC"),
    ]


def test_a_week_missed_while_the_scheduler_was_down_is_caught_up_that_week(
    app, kindred, garden_club
):
    sign_up(app, **CONSENTING)
    friday = wednesday_digest_time() + timedelta(days=2)  # back up two days late
    assert rhythm.start_weekly_rounds(kindred, now=friday) == 1


def test_the_digest_day_is_in_the_members_timezone(app, kindred, garden_club):
    sign_up(app, **{**CONSENTING, "timezone": "America/New_York"})
    due = wednesday_digest_time()  # 09:00 UTC is 04:00 in New York: not yet there
    assert rhythm.start_weekly_rounds(kindred, now=due + timedelta(minutes=1)) == 0
    assert rhythm.start_weekly_rounds(kindred, now=due + timedelta(hours=5, minutes=1)) == 1


def test_members_who_joined_after_this_weeks_digest_time_start_next_week(app, kindred, garden_club):
    ann = sign_up(app, **CONSENTING)
    due = wednesday_digest_time()
    with kindred.uow() as uow:
        uow.members.get(ann.member_id).created_at = due + timedelta(minutes=5)
        uow.commit()
    assert rhythm.start_weekly_rounds(kindred, now=due + timedelta(minutes=10)) == 0
    assert rhythm.start_weekly_rounds(kindred, now=due + timedelta(days=7, minutes=1)) == 1


def test_members_without_matching_consent_have_no_round(app, kindred, garden_club):
    sign_up(app, digest_day="wed")
    assert rhythm.start_weekly_rounds(kindred, now=wednesday_digest_time()) == 0


def test_a_week_with_nothing_to_say_sends_no_digest(app, kindred):
    ann = sign_up(app, **CONSENTING)  # no listings at all
    assert rhythm.start_weekly_rounds(kindred, now=wednesday_digest_time()) == 1
    run_worker(kindred)
    assert rounds(kindred) == [(ann.member_id, local_week(wednesday_digest_time(), "UTC"), "empty")]
    assert inbox_kinds(ann) == []


def test_a_budget_of_zero_still_rematches_but_sends_nothing(app, kindred, garden_club):
    ann = sign_up(app, max_notifications_per_week=0, **CONSENTING)
    assert rhythm.start_weekly_rounds(kindred, now=wednesday_digest_time()) == 1
    run_worker(kindred)
    assert rounds(kindred)[0][2] == "no_budget"
    assert inbox_kinds(ann) == []
    assert len(ann.get("/api/v1/members/me/suggestions").json["groups"]) == 1


def test_the_digest_names_upcoming_sessions_and_one_small_step(app, kindred, garden_club):
    ann = sign_up(app, **CONSENTING)
    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    (suggestion,) = ann.get("/api/v1/members/me/suggestions").json["groups"]
    ann.post(f"/api/v1/suggestions/{suggestion['id']}/response", json={"answer": "yes"})
    run_worker(kindred)

    assert rhythm.start_weekly_rounds(kindred, now=wednesday_digest_time()) == 1
    run_worker(kindred)
    digest = next(
        n for n in ann.get("/api/v1/members/me/notifications").json if n["kind"] == "digest"
    )
    assert "Coming up: Gentle garden club, Sat " in digest["body"]
    assert "One small step: Go along to Gentle garden club (Sat " in digest["body"]
    assert digest["body"].count("One small step") == 1


# ---------------------------------------------------------------- reminders


def said_yes(app, kindred, email_address: str, **profile):
    member = sign_up(app, email=email_address, **CONSENTING, **profile)
    member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    (suggestion,) = member.get("/api/v1/members/me/suggestions").json["groups"]
    member.post(f"/api/v1/suggestions/{suggestion['id']}/response", json={"answer": "yes"})
    return member


def test_one_reminder_a_day_before_a_session_only_to_those_who_said_yes(app, kindred, garden_club):
    going = said_yes(app, kindred, "going@example.org")
    not_going = sign_up(app, email="no@example.org", **CONSENTING)
    not_going.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    (offer,) = not_going.get("/api/v1/members/me/suggestions").json["groups"]
    not_going.post(f"/api/v1/suggestions/{offer['id']}/response", json={"answer": "no"})

    session = next_session(SATURDAY_MORNINGS, [], "UTC", utcnow() + timedelta(days=2))
    assert rhythm.send_reminders(kindred, now=session - timedelta(hours=30)) == 0  # too early
    assert rhythm.send_reminders(kindred, now=session - timedelta(hours=23)) == 1
    assert rhythm.send_reminders(kindred, now=session - timedelta(hours=2)) == 0  # once only
    reminder = going.get("/api/v1/members/me/notifications").json[0]
    assert reminder["kind"] == "reminder" and reminder["title"] == "Coming up: Gentle garden club"
    assert "reminder" not in inbox_kinds(not_going)
    # The next week's session gets its own reminder.
    assert rhythm.send_reminders(kindred, now=session + timedelta(days=6)) == 1


def test_reminders_and_news_respect_the_weekly_budget(app, kindred, garden_club):
    # A budget of one is the digest's alone: no reminder.
    only_digest = said_yes(app, kindred, "one@example.org", max_notifications_per_week=1)
    two = said_yes(app, kindred, "two@example.org", max_notifications_per_week=2)
    session = next_session(SATURDAY_MORNINGS, [], "UTC", utcnow() + timedelta(days=2))
    assert rhythm.send_reminders(kindred, now=session - timedelta(hours=23)) == 1
    assert "reminder" not in inbox_kinds(only_digest)
    assert "reminder" in inbox_kinds(two)
    # Its one nudge spent, the next week's reminder waits until the rolling week has passed.
    with kindred.uow() as uow:
        uow.session.execute(sa.update(Notification).values(created_at=session - timedelta(days=1)))
        uow.commit()
    assert rhythm.send_reminders(kindred, now=session + timedelta(days=6)) == 1


# ---------------------------------------------------------------- quiet hours


def quiet_now() -> dict:
    """Quiet hours from an hour ago to two hours from now, UTC: whatever time the test runs."""
    now = utcnow()
    return {
        "quiet_hours_start": f"{(now - timedelta(hours=1)).hour:02d}:00",
        "quiet_hours_end": f"{(now + timedelta(hours=2)).hour:02d}:00",
        "notify_channels": ["in_app", "email"],
    }


def test_emails_wait_out_quiet_hours_then_go_once(app, kindred, settings, garden_club):
    ann = sign_up(app, email="night@example.org", **CONSENTING, **quiet_now())
    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    assert inbox_kinds(ann) == ["matches_ready"]  # the inbox has it at once
    mail = settings.var_dir / "mail" / "new"
    assert not mail.exists() or list(mail.iterdir()) == []

    with kindred.uow() as uow:
        (event,) = uow.session.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.kind == "NotificationCreated")
        )
        assert event.published_at is None and event.available_at > utcnow()
        assert not kindred.publisher.job_exists(event.id)
    assert sweep_outbox()["published"] == 0  # not yet: still quiet

    with kindred.uow() as uow:  # the quiet hours end
        uow.session.get(OutboxEvent, event.id).available_at = utcnow() - timedelta(seconds=1)
        uow.commit()
    assert sweep_outbox()["published"] == 1
    run_worker(kindred)
    assert sweep_outbox()["published"] == 0
    (delivered,) = mail.iterdir()
    message = email.message_from_bytes(delivered.read_bytes(), policy=email.policy.default)
    assert message["To"] == "night@example.org"
    assert kindred.redis.exists(f"rq:job:{job_id(event.id)}")


def test_a_reminder_held_back_past_its_session_is_not_emailed(app, kindred, settings, garden_club):
    said_yes(app, kindred, "late@example.org", **quiet_now())
    session = next_session(SATURDAY_MORNINGS, [], "UTC", utcnow() + timedelta(days=2))
    assert rhythm.send_reminders(kindred, now=session - timedelta(hours=23)) == 1
    with kindred.uow() as uow:  # the session began while the email waited
        reminder = uow.session.scalar(
            sa.select(Notification).where(Notification.kind == "reminder")
        )
        reminder.expires_at = utcnow() - timedelta(minutes=1)
        uow.session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.kind == "NotificationCreated")
            .values(available_at=utcnow() - timedelta(seconds=1))
        )
        uow.commit()
    sweep_outbox()
    run_worker(kindred)
    with kindred.uow() as uow:
        statuses = dict(
            uow.session.execute(
                sa.select(Notification.kind, NotificationDelivery.status).join(
                    NotificationDelivery, NotificationDelivery.notification_id == Notification.id
                )
            ).all()
        )
    assert statuses == {"matches_ready": "sent", "reminder": "expired"}


def test_listings_keep_their_timezone(verified_partner):
    created = verified_partner.post(
        "/api/v1/listings", json=listing_body(timezone="America/New_York")
    )
    assert created.status_code == 201 and created.json["timezone"] == "America/New_York"
    refused = verified_partner.post("/api/v1/listings", json=listing_body(timezone="Mars/Olympus"))
    assert refused.status_code == 422
    assert "timezone" in refused.json["errors"]
