"""Email: a real SMTP server on loopback (aiosmtpd), the Maildir sink, and an SMTP outage that
ends as a visible dead letter after its retries."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import time

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from service.adapters.orm import JobFailure, NotificationDelivery
from service.services import events
from tests.integration.api.conftest import listing_body, run_worker, sign_up
from tests.support import free_port
from workers import context
from workers.dead_letters import failed_jobs
from workers.scheduler import build_scheduler

WANTS_EMAIL = {
    "consents": {"matching": True, "peer_introductions": False},
    "notify_channels": ["in_app", "email"],
    # Equal start and end: no quiet hours, so these tests pass at any hour (quiet hours have
    # their own tests in test_rhythm.py).
    "quiet_hours_start": "00:00",
    "quiet_hours_end": "00:00",
}


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_inbox():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def use_mail(kindred, smtp_url: str) -> None:
    kindred.settings = dataclasses.replace(kindred.settings, smtp_url=smtp_url)
    context.use(kindred)


@pytest.fixture
def live_listing(kindred, verified_partner):
    context.use(kindred)
    response = verified_partner.post("/api/v1/listings", json=listing_body())
    assert response.status_code == 201
    run_worker(kindred)  # its fan-out, before any member exists


def deliveries(kindred) -> list[tuple[str, int]]:
    with kindred.uow() as uow:
        columns = (NotificationDelivery.status, NotificationDelivery.attempts)
        rows = uow.session.execute(sa.select(*columns))
        return [tuple(row) for row in rows]


def test_a_member_who_chose_email_gets_one_over_smtp(app, kindred, live_listing, smtp_inbox):
    controller, inbox = smtp_inbox
    use_mail(kindred, f"smtp://127.0.0.1:{controller.port}")
    member = sign_up(app, email="mail@example.org", **WANTS_EMAIL)
    member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)

    ((recipients, message),) = inbox.messages
    assert recipients == ["mail@example.org"]
    assert message["Subject"] == "Your suggestions are ready"
    assert "notification-" in message["Message-ID"]
    assert "1 group" in message.get_content()
    assert deliveries(kindred) == [("sent", 1)]
    with kindred.uow() as uow:  # the same event handled again sends nothing more
        from service.adapters.orm import OutboxEvent

        for event_id in uow.session.scalars(sa.select(OutboxEvent.id)):
            events.handle(kindred, event_id)
    assert len(inbox.messages) == 1


def test_members_who_did_not_choose_email_get_none(app, kindred, live_listing, smtp_inbox):
    controller, inbox = smtp_inbox
    use_mail(kindred, f"smtp://127.0.0.1:{controller.port}")
    member = sign_up(app, email="quiet@example.org", consents=WANTS_EMAIL["consents"])
    member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    assert len(member.get("/api/v1/members/me/notifications").json) == 1
    assert inbox.messages == [] and deliveries(kindred) == []


def test_the_embedded_default_delivers_to_a_local_maildir(app, kindred, live_listing, settings):
    use_mail(kindred, "maildir")
    member = sign_up(app, email="local@example.org", **WANTS_EMAIL)
    member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    (delivered,) = (settings.var_dir / "mail" / "new").iterdir()
    message = email.message_from_bytes(delivered.read_bytes(), policy=email.policy.default)
    assert message["To"] == "local@example.org"
    assert message["Subject"] == "Your suggestions are ready"


def test_an_smtp_outage_retries_then_leaves_a_visible_dead_letter(
    app, kindred, live_listing, monkeypatch
):
    use_mail(kindred, f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setattr("service.adapters.publisher.RETRIES", 1)
    monkeypatch.setattr("service.adapters.publisher.FIRST_RETRY_SECONDS", 1)
    member = sign_up(app, email="down@example.org", **WANTS_EMAIL)
    member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)  # matching, the inbox note, then the first email attempt fails
    assert deliveries(kindred) == [("pending", 1)]
    time.sleep(1.5)
    build_scheduler(kindred.redis).enqueue_jobs()  # the retry's wait is over
    run_worker(kindred)  # the second and last attempt fails too

    assert deliveries(kindred)[0][0] == "failed"
    with kindred.uow() as uow:
        (failure,) = uow.session.scalars(sa.select(JobFailure)).all()
    assert failure.queue == "notifications" and "ConnectionRefusedError" in failure.error
    assert "down@example.org" not in failure.error
    dead = failed_jobs(kindred.redis)
    assert [job.job_id for job in dead] == [failure.job_id]
    assert len(member.get("/api/v1/members/me/notifications").json) == 1  # the inbox still has it


class Refusing:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such mailbox"


def test_a_refused_recipient_is_recorded_without_the_address(
    app, kindred, live_listing, monkeypatch
):
    controller = Controller(Refusing(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        use_mail(kindred, f"smtp://127.0.0.1:{controller.port}")
        monkeypatch.setattr("service.adapters.publisher.RETRIES", 1)
        monkeypatch.setattr("service.adapters.publisher.FIRST_RETRY_SECONDS", 1)
        member = sign_up(app, email="refused@example.org", **WANTS_EMAIL)
        member.post("/api/v1/members/me/match-requests")
        run_worker(kindred)
        time.sleep(1.5)
        build_scheduler(kindred.redis).enqueue_jobs()
        run_worker(kindred)  # the last attempt is refused too
    finally:
        controller.stop()
    with kindred.uow() as uow:
        (failure,) = uow.session.scalars(sa.select(JobFailure)).all()
    assert "SMTPRecipientsRefused" in failure.error
    assert "refused@example.org" not in failure.error
    (dead,) = failed_jobs(kindred.redis)
    assert "refused@example.org" not in dead.error
