"""What kindred keeps about a member, and how it lets go: erasure, withdrawn consent, retention.

Erasure deletes the member's row; their tags, consents, requests, suggestions (theirs, and other
members' suggestions of them), introductions, notifications, weekly rounds and connection
check-ins go with it by ON DELETE CASCADE. What does not cascade is named here: outbox events
and failed-job records that point at those rows, other members' introduction notices that carry
the erased member's name, and what Redis holds (jobs, kept idempotent answers, counters). See
docs/privacy.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from service.adapters import redis_traces
from service.adapters.orm import (
    ConnectionCheckIn,
    FollowUp,
    Introduction,
    JobFailure,
    MatchRequest,
    Notification,
    OutboxEvent,
    SessionAttendance,
    Suggestion,
    WeeklyRound,
    utcnow,
)
from service.adapters.publisher import job_id
from service.domain.events import subject
from service.domain.vocabulary import IntroductionStatus, SuggestionKind, SuggestionStatus
from service.services import outbox
from service.services.unit_of_work import UnitOfWork

CURRENT = (SuggestionStatus.OPEN, SuggestionStatus.LATER)
ANSWERED = (SuggestionStatus.YES, SuggestionStatus.NO)
CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class Traces:
    """Rows outside the member's cascade that name the member's things."""

    event_ids: list[int]
    introduction_subjects: list[str]


def traces_of(uow: UnitOfWork, member_id: int) -> Traces:
    session = uow.session
    introductions = session.scalars(sa.select(Introduction.id).where(_in_pair(member_id))).all()
    owned = {
        "member": [member_id],
        "match_request": _ids(session, MatchRequest.id, MatchRequest.member_id == member_id),
        "suggestion": _ids(
            session,
            Suggestion.id,
            sa.or_(Suggestion.member_id == member_id, Suggestion.peer_id == member_id),
        ),
        "notification": _ids(
            session,
            Notification.id,
            sa.or_(
                Notification.member_id == member_id,
                Notification.subject.in_([subject("introduction", i) for i in introductions]),
            ),
        ),
        "weekly_round": _ids(session, WeeklyRound.id, WeeklyRound.member_id == member_id),
        "introduction": list(introductions),
    }
    subjects = [subject(noun, i) for noun, ids in owned.items() for i in ids]
    event_ids = []
    for chunk in _chunks(subjects):
        event_ids += session.scalars(
            sa.select(OutboxEvent.id).where(OutboxEvent.subject.in_(chunk))
        ).all()
    return Traces(event_ids, [subject("introduction", i) for i in introductions])


def held_about(uow: UnitOfWork, member_id: int) -> dict[str, list]:
    """The member's own rows beyond the profile, oldest first: the export's body."""

    def rows(model):
        query = sa.select(model).where(model.member_id == member_id).order_by(model.id)
        return list(uow.session.scalars(query))

    return {
        "match_requests": rows(MatchRequest),
        "suggestions": rows(Suggestion),
        "notifications": rows(Notification),
        "weekly_rounds": rows(WeeklyRound),
        "attendance": rows(SessionAttendance),
        "follow_ups": rows(FollowUp),
        "connection_checkins": rows(ConnectionCheckIn),
    }


def delete_traces(uow: UnitOfWork, traces: Traces) -> None:
    """In the erasure's transaction, before the member's row goes."""
    session = uow.session
    for chunk in _chunks(traces.event_ids):
        session.execute(sa.delete(OutboxEvent).where(OutboxEvent.id.in_(chunk)))
        session.execute(
            sa.delete(JobFailure).where(JobFailure.job_id.in_([job_id(e) for e in chunk]))
        )
    # The other member's "you were introduced" notice and keep-in-touch follow-ups name the
    # erased member (the follow-up rows themselves go with the introduction).
    for chunk in _chunks(traces.introduction_subjects):
        session.execute(
            sa.delete(Notification).where(
                Notification.kind.in_(("introduction", "follow_up")),
                Notification.subject.in_(chunk),
            )
        )


def on_member_erased(kindred, event_id: int, member_id: int) -> str:
    """Refit the erased member's region's model now and delete every older model file, which
    may hold them, rather than keep them until each region's next fit. Waits for a fit another
    worker is running instead of taking an old model."""
    matchers = kindred.matchers
    with kindred.uow() as uow:
        region = matchers.known(uow.session.get(OutboxEvent, event_id).region)
        removed = matchers.refit_after_erasure(uow.session, region)
        outbox.mark_handled(uow, event_id)
        uow.commit()
    return f"model refitted without the member; {removed} older model file(s) deleted"


def forget_in_redis(connection, member_id: int, traces: Traces) -> None:
    redis_traces.forget_member(connection, member_id, [job_id(e) for e in traces.event_ids])


def withdraw_from_peers(uow: UnitOfWork, member_id: int) -> None:
    """Peer consent withdrawn, in the caller's transaction: nobody is offered this member any
    more, their own peer suggestions go, and introductions still waiting for an answer close
    quietly (as after a "no": nobody is told why)."""
    session = uow.session
    session.execute(
        sa.update(Suggestion)
        .where(
            Suggestion.kind == SuggestionKind.PEER,
            Suggestion.status.in_(CURRENT),
            sa.or_(Suggestion.member_id == member_id, Suggestion.peer_id == member_id),
        )
        .values(status=SuggestionStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        sa.update(Introduction)
        .where(
            Introduction.status == IntroductionStatus.PENDING,
            _in_pair(member_id),
        )
        .values(status=IntroductionStatus.CLOSED)
        .execution_options(synchronize_session=False)
    )


def withdraw_from_checkins(uow: UnitOfWork, member_id: int) -> int:
    """Connection check-in consent withdrawn, in the caller's transaction: every answer the
    member gave is deleted (not kept "just in case"), and the monthly offer stops with the
    consent. Offers already in the inbox say nothing about the answers and age out with the
    other notifications."""
    return uow.session.execute(
        sa.delete(ConnectionCheckIn)
        .where(ConnectionCheckIn.member_id == member_id)
        .execution_options(synchronize_session=False)
    ).rowcount


def withdraw_from_matching(uow: UnitOfWork, member_id: int) -> None:
    """Matching consent withdrawn: no suggestion of any kind stays open for the member."""
    withdraw_from_peers(uow, member_id)
    uow.session.execute(
        sa.update(Suggestion)
        .where(Suggestion.member_id == member_id, Suggestion.status.in_(CURRENT))
        .values(status=SuggestionStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Retention:
    suggestions: timedelta  # never answered (open, later, expired)
    notifications: timedelta
    handled_events: timedelta


def apply_retention(kindred, retention: Retention) -> dict[str, int]:
    """Delete what has been kept long enough (run daily by the scheduler). Answers (yes, no) stay
    while the account does: they are the member's own choices, a "no" is never offered again,
    and the matcher learns from them. Erasure removes them."""
    now = utcnow()
    with kindred.uow(publish=False) as uow:
        session = uow.session
        deleted = {
            "suggestions": session.execute(
                sa.delete(Suggestion).where(
                    Suggestion.status.not_in(ANSWERED),
                    Suggestion.created_at < now - retention.suggestions,
                )
            ).rowcount,
            "notifications": session.execute(
                sa.delete(Notification).where(
                    Notification.created_at < now - retention.notifications
                )
            ).rowcount,
            "events": session.execute(
                sa.delete(OutboxEvent).where(
                    OutboxEvent.handled_at < now - retention.handled_events
                )
            ).rowcount,
        }
        uow.commit()
    return deleted


def _in_pair(member_id: int):
    return sa.or_(Introduction.member_low_id == member_id, Introduction.member_high_id == member_id)


def _ids(session, column, condition) -> list[int]:
    return list(session.scalars(sa.select(column).where(condition)).all())


def _chunks(values: list) -> list[list]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]
