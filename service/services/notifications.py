"""Notifications: one per recipient, kind, subject and cycle, in the member's in-app inbox."""

from __future__ import annotations

import sqlalchemy as sa

from service.adapters.orm import MatchRequest, Notification, utcnow
from service.domain.credentials import Principal, Role
from service.domain.errors import NotFound
from service.domain.events import cycle_of, subject
from service.services import outbox
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork


def notify(uow: UnitOfWork, member_id: int, kind: str, about: str, cycle: str, **text) -> bool:
    """Add a notification unless this one was already sent (a job run twice adds none)."""
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
    uow.session.add(
        Notification(member_id=member_id, kind=kind, subject=about, cycle=cycle, **text)
    )
    return True


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
