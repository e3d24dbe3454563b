"""Notifications: one per recipient, kind, subject and cycle, in the member's in-app inbox."""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta

import sqlalchemy as sa

from service.adapters.email import compose, sender_for
from service.adapters.orm import MatchRequest, Member, Notification, NotificationDelivery, utcnow
from service.domain.credentials import Principal, Role
from service.domain.errors import NotFound
from service.domain.events import EventKind, cycle_of, subject
from service.domain.rhythm import quiet_hours_over
from service.domain.vocabulary import Channel
from service.observability import metrics
from service.services import outbox
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork

# Messages the member did not ask for count against their weekly budget; answers to their own
# requests (suggestions ready, an introduction) do not.
BUDGETED_KINDS = ("new_listing", "digest", "reminder", "follow_up", "checkin_offer")
# The weekly digest keeps one slot of the budget for itself; these share the rest.
NUDGE_KINDS = ("new_listing", "reminder", "follow_up", "checkin_offer")
BUDGET_WINDOW = timedelta(days=7)


class EmailFailed(Exception):
    """Sending failed; the message names the kind of failure, never an address."""


def room_for_nudges(uow: UnitOfWork, members: list[Member], now: datetime) -> dict[int, int]:
    """How many more unasked-for messages each member may get now: their weekly maximum, less
    one slot kept for their digest, less the nudges of the last seven days (a rolling week, so
    no burst at a week's turn)."""
    if not members:
        return {}
    sent = dict(
        uow.session.execute(
            sa.select(Notification.member_id, sa.func.count())
            .where(
                Notification.member_id.in_([m.id for m in members]),
                Notification.kind.in_(NUDGE_KINDS),
                Notification.created_at > now - BUDGET_WINDOW,
            )
            .group_by(Notification.member_id)
        ).all()
    )
    return {m.id: max(0, m.max_notifications_per_week - 1 - sent.get(m.id, 0)) for m in members}


def notify(
    uow: UnitOfWork,
    member_id: int,
    kind: str,
    about: str,
    cycle: str,
    expires_at: datetime | None = None,
    **text,
) -> bool:
    """Add a notification unless this one was already sent (a job run twice adds none). The
    inbox has it at once; an email waits until the member's quiet hours are over."""
    exists = uow.session.scalar(
        sa.select(Notification.id).where(
            Notification.member_id == member_id,
            Notification.kind == kind,
            Notification.subject == about,
            Notification.cycle == cycle,
        )
    )
    if exists is not None:
        return False
    notification = Notification(
        member_id=member_id, kind=kind, subject=about, cycle=cycle, expires_at=expires_at, **text
    )
    uow.session.add(notification)
    member = uow.members.get(member_id)
    if Channel.EMAIL.value in (member.notify_channels or []):
        uow.flush()  # the notification's id names the delivery and the email's Message-ID
        uow.session.add(NotificationDelivery(notification_id=notification.id, channel="email"))
        now = utcnow()
        send_at = quiet_hours_over(
            now, member.timezone, member.quiet_hours_start, member.quiet_hours_end
        )
        outbox.record(
            uow,
            EventKind.NOTIFICATION_CREATED,
            subject("notification", notification.id),
            dedupe_key=f"NotificationCreated:{notification.id}",
            available_at=send_at if send_at > now else None,
        )
    return True


def send_email(kindred, event_id: int, notification_id: int) -> str:
    """Deliver one notification by email. A failure raises, so RQ retries with backoff; the
    last failure marks the delivery failed (see `delivery_failed`)."""
    with kindred.uow() as uow:
        delivery = _email_delivery(uow, notification_id)
        if delivery is None or delivery.status == "sent":
            outbox.mark_handled(uow, event_id)
            uow.commit()
            return "nothing to send"
        notification = uow.session.get(Notification, notification_id)
        if notification.expires_at is not None and notification.expires_at <= utcnow():
            # A reminder held back by quiet hours until its session began: not worth sending.
            delivery.status = "expired"
            outbox.mark_handled(uow, event_id)
            uow.commit()
            return "expired"
        member = uow.members.get(notification.member_id)
        message = compose(
            kindred.settings.mail_from,
            member.email,
            f"notification-{notification.id}",
            notification.title,
            _email_text(notification),
        )
        delivery.attempts += 1
        uow.commit()
    try:
        sender_for(kindred.settings).send(message)
    except (smtplib.SMTPException, OSError) as error:
        metrics.NOTIFICATIONS_FAILED.labels(channel=Channel.EMAIL.value).inc()
        # Re-raised without the original: SMTP errors quote recipient addresses, and a failed
        # job's error is kept in Redis and in job_failures.
        raise EmailFailed(f"{type(error).__name__} {getattr(error, 'smtp_code', '')}") from None
    metrics.NOTIFICATIONS_SENT.labels(channel=Channel.EMAIL.value).inc()
    with kindred.uow() as uow:
        delivery = _email_delivery(uow, notification_id)
        delivery.status, delivery.sent_at, delivery.last_error = "sent", utcnow(), None
        outbox.mark_handled(uow, event_id)
        uow.commit()
    return "sent"


def delivery_failed(kindred, notification_id: int, error: str) -> None:
    with kindred.uow(publish=False) as uow:
        delivery = _email_delivery(uow, notification_id)
        if delivery is not None and delivery.status != "sent":
            delivery.status, delivery.last_error = "failed", error[:300]
            uow.commit()


def _email_delivery(uow: UnitOfWork, notification_id: int) -> NotificationDelivery | None:
    return uow.session.scalar(
        sa.select(NotificationDelivery).where(
            NotificationDelivery.notification_id == notification_id,
            NotificationDelivery.channel == "email",
        )
    )


# What the member can do about each kind of message, said under it in the email.
EMAIL_ACTIONS = {
    "reminder": "If you cannot go this time, that is fine: nobody needs to be told.",
    "follow_up": (
        'Open kindred\'s "Going back" page to say you kept in touch, or that this one is not '
        "for you; you can snooze these follow-ups or turn them off there."
    ),
    "checkin_offer": (
        "Open kindred to answer three short questions, if and when you like; you can withdraw "
        "the check-in consent there at any time."
    ),
}
DEFAULT_EMAIL_ACTION = "Open kindred to see the reasons and answer yes, no or later."


def _email_text(notification: Notification) -> str:
    action = EMAIL_ACTIONS.get(notification.kind, DEFAULT_EMAIL_ACTION)
    return (
        f"{notification.body}\n\n{action}\n\n"
        "You get these emails because you chose email in your notification settings; "
        "remove it from notify_channels to stop them."
    )


def matches_ready(kindred, event_id: int, request_id: int) -> str:
    with kindred.uow() as uow:
        request = uow.session.get(MatchRequest, request_id)
        added = False
        if request is not None:
            found = request.group_count + request.peer_count
            added = notify(
                uow,
                request.member_id,
                "matches_ready",
                subject("match_request", request_id),
                cycle_of(request.requested_at),
                title="Your suggestions are ready" if found else "No new suggestions this time",
                body=_matches_text(request.group_count, request.peer_count),
                link="/api/v1/members/me/suggestions",
            )
        outbox.mark_handled(uow, event_id)
        uow.commit()
        return "notified" if added else "already notified"


def _matches_text(groups: int, peers: int) -> str:
    if groups == 0 and peers == 0:
        return "We found nothing that fits you well yet; we will look again as new groups join."
    parts = []
    if groups:
        parts.append(f"{groups} group{'s' if groups != 1 else ''}")
    if peers:
        parts.append(f"{peers} {'people' if peers != 1 else 'person'} who share your values")
    return "We found " + " and ".join(parts) + ", each with the reasons it fits you."


def inbox(uow: UnitOfWork, caller: Principal, unread_only: bool, limit: int) -> list:
    require_role(caller, Role.MEMBER)
    with uow:
        query = sa.select(Notification).where(Notification.member_id == caller.subject_id)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        order = (Notification.created_at.desc(), Notification.id.desc())
        return uow.session.scalars(query.order_by(*order).limit(limit)).all()


def mark_read(uow: UnitOfWork, caller: Principal, notification_id: int) -> Notification:
    require_role(caller, Role.MEMBER)
    with uow:
        notification = uow.session.get(Notification, notification_id)
        if notification is None or notification.member_id != caller.subject_id:
            raise NotFound("no such notification")
        if notification.read_at is None:
            notification.read_at = utcnow()
            uow.commit()
        return notification
