"""Peer introductions by double opt-in.

A peer suggestion becomes an introduction only when both members say yes; then each is told
what the other agreed to share. A "no" from either side closes it quietly: nobody is ever told
who declined, and the pair never comes back (the peer matcher reads every "no").
"""

from __future__ import annotations

import sqlalchemy as sa

from service.adapters.orm import Introduction, Member, Suggestion, utcnow
from service.domain.credentials import Principal, Role
from service.domain.events import EventKind, cycle_of, subject
from service.domain.vocabulary import IntroductionStatus, SuggestionKind, SuggestionStatus
from service.services import notifications, outbox, webhooks
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork

CURRENT = (SuggestionStatus.OPEN, SuggestionStatus.LATER)


def on_suggestion_answered(kindred, event_id: int, suggestion_id: int) -> str:
    """The SuggestionAnswered handler: a yes to a group tells its organization's webhooks;
    peer answers move an introduction."""
    with kindred.uow() as uow:
        suggestion = uow.session.get(Suggestion, suggestion_id)
        outcome = "nothing to do"
        if suggestion is not None and suggestion.kind is SuggestionKind.GROUP:
            if suggestion.status is SuggestionStatus.YES:  # the partner hears: a count, no name
                outcome = f"{webhooks.queue_listing_interest(uow, suggestion, event_id)} webhooks"
        elif suggestion is not None and suggestion.kind is SuggestionKind.PEER:
            if suggestion.status is SuggestionStatus.YES:
                outcome = _said_yes(uow, suggestion)
            elif suggestion.status is SuggestionStatus.NO:
                outcome = _said_no(uow, suggestion)
        outbox.mark_handled(uow, event_id)
        uow.commit()
        return outcome


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _introduction(uow: UnitOfWork, a: int, b: int) -> Introduction:
    low, high = _pair(a, b)
    found = uow.session.scalar(
        sa.select(Introduction).where(
            Introduction.member_low_id == low, Introduction.member_high_id == high
        )
    )
    if found is None:
        found = Introduction(member_low_id=low, member_high_id=high)
        uow.session.add(found)
        uow.flush()
    return found


def _answers_about(uow: UnitOfWork, member_id: int, peer_id: int) -> list[Suggestion]:
    return uow.session.scalars(
        sa.select(Suggestion).where(
            Suggestion.member_id == member_id,
            Suggestion.kind == SuggestionKind.PEER,
            Suggestion.peer_id == peer_id,
        )
    ).all()


def _said_yes(uow: UnitOfWork, suggestion: Suggestion) -> str:
    me, them = suggestion.member_id, suggestion.peer_id
    introduction = _introduction(uow, me, them)
    if introduction.status is not IntroductionStatus.PENDING:
        return f"introduction already {introduction.status.value}"
    theirs = _answers_about(uow, them, me)
    if any(s.status is SuggestionStatus.NO for s in theirs):
        introduction.status = IntroductionStatus.CLOSED  # they already said no: quietly over
        return "closed quietly"
    if any(s.status is SuggestionStatus.YES for s in theirs):
        introduction.status, introduction.introduced_at = IntroductionStatus.INTRODUCED, utcnow()
        outbox.record(
            uow,
            EventKind.INTRODUCTION_ACCEPTED,
            subject("introduction", introduction.id),
            dedupe_key=f"IntroductionAccepted:{introduction.id}",
        )
        return "introduced"
    other = uow.members.get(them)
    if any(s.status in CURRENT for s in theirs) or not (other and other.consent_peer_introductions):
        return "waiting for the other member"
    # They are asked too, as an ordinary suggestion: never told that someone said yes first.
    cycle = cycle_of(utcnow())
    this_week = [s for s in theirs if s.cycle == cycle]
    if this_week:  # one suggestion per member, target and week: it made way, and comes back
        this_week[0].status = SuggestionStatus.OPEN
    else:
        uow.session.add(
            Suggestion(
                member_id=them,
                kind=SuggestionKind.PEER,
                target=f"member:{me}",
                peer_id=me,
                cycle=cycle,
                score=suggestion.score,
                reasons=list(suggestion.reasons),  # shared values, interests, a distance band
            )
        )
    return "asked the other member"


def _said_no(uow: UnitOfWork, suggestion: Suggestion) -> str:
    me, them = suggestion.member_id, suggestion.peer_id
    introduction = _introduction(uow, me, them)
    if introduction.status is IntroductionStatus.PENDING:
        introduction.status = IntroductionStatus.CLOSED
    for theirs in _answers_about(uow, them, me):
        if theirs.status in CURRENT:
            theirs.status = SuggestionStatus.EXPIRED  # it simply goes away
    return "closed quietly"


def on_introduction_accepted(kindred, event_id: int, introduction_id: int) -> str:
    """Tell both members, each with what the other agreed to share."""
    with kindred.uow() as uow:
        introduction = uow.session.get(Introduction, introduction_id)
        if introduction is None:  # one of the two was erased since: nobody to tell
            outbox.mark_handled(uow, event_id)
            uow.commit()
            return "no such introduction"
        low = uow.members.get(introduction.member_low_id)
        high = uow.members.get(introduction.member_high_id)
        about = subject("introduction", introduction_id)
        cycle = cycle_of(introduction.introduced_at)
        added = 0
        for recipient, other in ((low, high), (high, low)):
            added += notifications.notify(
                uow,
                recipient.id,
                "introduction",
                about,
                cycle,
                title=f"You and {other.display_name} would both like to meet",
                body=_introduction_text(other),
                link="/api/v1/members/me/introductions",
            )
        outbox.mark_handled(uow, event_id)
        uow.commit()
        return f"{added} notified"


def shared_by(other: Member) -> dict:
    """What one member shows an introduced peer: their choice, nothing more."""
    shared = {"display_name": other.display_name}
    if other.share_email_on_introduction:
        shared["email"] = other.email
    return shared


def _introduction_text(other: Member) -> str:
    shared = shared_by(other)
    if "email" in shared:
        return f"You both said yes. {other.display_name} shared their email: {shared['email']}."
    return (
        f"You both said yes. {other.display_name} has not shared an email; if you share yours "
        "(share_email_on_introduction in your profile), they will see it in their introductions."
    )


def my_introductions(uow: UnitOfWork, caller: Principal) -> list[dict]:
    require_role(caller, Role.MEMBER)
    with uow:
        return introductions_of(uow, caller.subject_id)


def introductions_of(uow: UnitOfWork, me: int) -> list[dict]:
    """The member's introductions, each with what the peer chose to share (in the caller's
    unit of work)."""
    rows = uow.session.scalars(
        sa.select(Introduction)
        .where(
            Introduction.status == IntroductionStatus.INTRODUCED,
            sa.or_(Introduction.member_low_id == me, Introduction.member_high_id == me),
        )
        .order_by(Introduction.introduced_at.desc())
    ).all()
    result = []
    for introduction in rows:
        other_id = (
            introduction.member_high_id
            if introduction.member_low_id == me
            else introduction.member_low_id
        )
        result.append(
            {
                "id": introduction.id,
                "introduced_at": introduction.introduced_at,
                "peer": shared_by(uow.members.get(other_id)),
            }
        )
    return result
