"""Matches for members: ask, get answered by the matching worker, answer each suggestion."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from service.adapters.matcher_source import profile_record
from service.adapters.orm import Listing, MatchRequest, Member, Suggestion, utcnow
from service.domain.credentials import Principal, Role
from service.domain.errors import NotFound, RuleViolation
from service.domain.events import EventKind, cycle_of, subject
from service.domain.vocabulary import (
    Answer,
    ListingStatus,
    MatchRequestStatus,
    SuggestionKind,
    SuggestionStatus,
)
from service.services import balance, members, outbox
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork

GROUP_SUGGESTIONS = 5
# How far down the ranking a suggestion of the other kind may come from (give and receive).
BALANCE_POOL = 30
PEER_SUGGESTIONS = 3
UNFINISHED = (MatchRequestStatus.QUEUED, MatchRequestStatus.RUNNING)
CURRENT = (SuggestionStatus.OPEN, SuggestionStatus.LATER)
# An open suggestion unanswered this long is stale: quality over quantity.
STALE_AFTER = timedelta(days=21)


def request_matches(uow: UnitOfWork, caller: Principal, reason: str = "asked") -> MatchRequest:
    """A new request, or the one still waiting: asking twice does not match twice."""
    require_role(caller, Role.MEMBER)
    with uow:
        request = _request_for(uow, caller.subject_id, reason)
        members.mark_active(uow, caller.subject_id)
        uow.commit()
        return request


def _request_for(uow: UnitOfWork, member_id: int, reason: str) -> MatchRequest:
    """The member's unfinished request, or a new one in the caller's transaction.

    The member's row is locked first (until the caller commits): two asks at the same moment,
    in two API processes, would otherwise both find nothing waiting and make two requests."""
    uow.session.execute(sa.select(Member.id).where(Member.id == member_id).with_for_update())
    member = uow.members.get(member_id)
    if member is None:
        raise NotFound("no such member")
    if not member.consent_matching:
        raise RuleViolation(
            "matching needs your consent first",
            {"consents.matching": ["must be granted before asking for matches"]},
        )
    waiting = uow.session.scalar(
        sa.select(MatchRequest).where(
            MatchRequest.member_id == member_id, MatchRequest.status.in_(UNFINISHED)
        )
    )
    return waiting if waiting is not None else new_request(uow, member_id, reason)


def new_request(uow: UnitOfWork, member_id: int, reason: str) -> MatchRequest:
    """A request of its own, in the caller's transaction (the weekly round needs one it can
    follow to completion, whatever else is waiting)."""
    request = MatchRequest(member_id=member_id, reason=reason)
    uow.session.add(request)
    uow.flush()
    outbox.record(uow, EventKind.MATCHES_REQUESTED, subject("match_request", request.id))
    return request


def start_due_rematches(kindred, limit: int = 500) -> int:
    """Match members whose profile or consent changed and who have since stopped editing
    (run by the scheduler). Returns how many requests were started."""
    now = utcnow()
    with kindred.uow() as uow:
        due = uow.session.scalars(
            sa.select(Member.id).where(Member.rematch_due_at <= now).limit(limit)
        ).all()
    started = 0
    for member_id in due:
        with kindred.uow() as uow:
            member = uow.members.get(member_id)
            if member is None or member.rematch_due_at is None or member.rematch_due_at > now:
                continue  # edited again meanwhile: it waits for the new quiet time
            member.rematch_due_at = None
            if member.consent_matching:
                _request_for(uow, member_id, "profile")
                started += 1
            uow.commit()
    return started


def expire_stale_suggestions(kindred, older_than: timedelta = STALE_AFTER) -> int:
    """Open suggestions nobody answered for weeks make way for fresh ones (run daily by the
    scheduler); "later" ones stay, since the member asked to be reminded."""
    with kindred.uow() as uow:
        expired = uow.session.execute(
            sa.update(Suggestion)
            .where(
                Suggestion.status == SuggestionStatus.OPEN,
                Suggestion.created_at < utcnow() - older_than,
            )
            .values(status=SuggestionStatus.EXPIRED)
        ).rowcount
        uow.commit()
        return expired


def get_match_request(uow: UnitOfWork, caller: Principal, request_id: int) -> MatchRequest:
    require_role(caller, Role.MEMBER)
    with uow:
        request = uow.session.get(MatchRequest, request_id)
        if request is None or request.member_id != caller.subject_id:
            raise NotFound("no such match request")
        return request


# ---------------------------------------------------------------- the matching worker's side


def answer_match_request(kindred, event_id: int, request_id: int) -> str:
    """Run the matchers for one request and store the suggestions, once."""
    with kindred.uow() as uow:
        request = uow.session.get(MatchRequest, request_id)
        if request is None or request.status is MatchRequestStatus.DONE:
            outbox.mark_handled(uow, event_id)
            uow.commit()
            return "nothing to do"
        request.status, request.started_at = MatchRequestStatus.RUNNING, utcnow()
        uow.commit()
    with kindred.uow() as uow:
        member = uow.members.get(request.member_id)
        profile = profile_record(member)
        # The model of the member's region: what is near them (all of it without regions).
        region = kindred.matchers.region_of(member.lat, member.lon)
        matchers = kindred.matchers.get(uow.session, region)
        pool = matchers.group.recommend(
            profile, k=BALANCE_POOL, exclude_ids=_answered_listings(uow, member.id)
        )
        # Reciprocity: one of the other kind when the member's giving and receiving lean.
        groups = balance.rebalance(
            pool[:GROUP_SUGGESTIONS],
            pool[GROUP_SUGGESTIONS:],
            balance.balance_of(uow.session, member.id),
            _directions(uow, pool),
        )
        peers = matchers.peer.recommend(profile, k=PEER_SUGGESTIONS)
    with kindred.uow() as uow:
        return _store_answer(uow, event_id, request_id, groups, peers)


def _directions(uow: UnitOfWork, suggestions: list) -> dict[int, str]:
    """{listing id: "give" or "receive"} for the suggested listings."""
    rows = uow.session.execute(
        sa.select(Listing.id, Listing.direction).where(
            Listing.id.in_([s.listing_id for s in suggestions])
        )
    )
    return {listing_id: getattr(d, "value", d) for listing_id, d in rows}


def _answered_listings(uow: UnitOfWork, member_id: int) -> list[int]:
    """Listings the member already said yes or no to: never offered again."""
    return list(
        uow.session.scalars(
            sa.select(Suggestion.listing_id).where(
                Suggestion.member_id == member_id,
                Suggestion.kind == SuggestionKind.GROUP,
                Suggestion.status.in_((SuggestionStatus.YES, SuggestionStatus.NO)),
            )
        )
    )


def _store_answer(uow: UnitOfWork, event_id, request_id, groups, peers) -> str:
    request = uow.session.get(MatchRequest, request_id)
    if request.status is MatchRequestStatus.DONE:  # another run got there first
        return "already answered"
    cycle = cycle_of(utcnow())
    if not _still_consenting(uow, request.member_id):  # withdrawn while the job ran
        groups = []
    peers = _still_open_to_peers(uow, request.member_id, peers)
    wanted = [
        *[(SuggestionKind.GROUP, f"listing:{s.listing_id}", s) for s in groups],
        *[(SuggestionKind.PEER, f"member:{s.member_id}", s) for s in peers],
    ]
    targets = {target for _, target, _ in wanted}
    earlier = uow.session.scalars(
        sa.select(Suggestion).where(
            Suggestion.member_id == request.member_id,
            sa.or_(Suggestion.target.in_(targets), Suggestion.status.in_(CURRENT)),
        )
    ).all()
    current = {s.target: s for s in earlier if s.status in CURRENT}
    # Answered yes or no: decided, never offered again ("no" is remembered).
    decided = {s.target for s in earlier if s.status in (SuggestionStatus.YES, SuggestionStatus.NO)}
    # Expired earlier this week and wanted again: the same row comes back (one per cycle).
    expired = {
        s.target: s for s in earlier if s.status is SuggestionStatus.EXPIRED and s.cycle == cycle
    }
    offered = {SuggestionKind.GROUP: 0, SuggestionKind.PEER: 0}
    for kind, target, found in wanted:
        if target in decided:
            continue
        offered[kind] += 1
        again = current.get(target) or expired.get(target)
        if again is not None:  # still suggested: with today's score and reasons
            if again.status is SuggestionStatus.EXPIRED:
                again.status = SuggestionStatus.OPEN
            again.score, again.reasons = found.score, list(found.reasons)
        else:
            uow.session.add(_suggestion(request, kind, target, found, cycle))
    # Quality over quantity: open suggestions this answer no longer holds make way.
    for target, old in current.items():
        if target not in targets and old.status is SuggestionStatus.OPEN:
            old.status = SuggestionStatus.EXPIRED
    if any(found.score >= members.GOOD_MATCH_SCORE for found in groups):
        members.mark_good_match(uow, [request.member_id])
    request.status, request.finished_at = MatchRequestStatus.DONE, utcnow()
    request.group_count = offered[SuggestionKind.GROUP]
    request.peer_count = offered[SuggestionKind.PEER]
    outbox.record(
        uow,
        EventKind.MATCHES_READY,
        subject("match_request", request_id),
        dedupe_key=f"MatchesReady:{request_id}",
    )
    outbox.mark_handled(uow, event_id)
    uow.commit()
    return f"{request.group_count} groups, {request.peer_count} peers"


def _still_consenting(uow: UnitOfWork, member_id: int) -> bool:
    return bool(
        uow.session.scalar(sa.select(Member.consent_matching).where(Member.id == member_id))
    )


def _still_open_to_peers(uow: UnitOfWork, member_id: int, peers: list) -> list:
    """The peers who, as this answer is stored, still consent (as does the member). The fitted
    matcher may be older than a withdrawal or an erasure: the database has the last word."""
    if not peers:
        return []
    consenting = set(
        uow.session.scalars(
            sa.select(Member.id).where(
                Member.id.in_([member_id, *(p.member_id for p in peers)]),
                Member.consent_matching.is_(True),
                Member.consent_peer_introductions.is_(True),
            )
        )
    )
    return [p for p in peers if p.member_id in consenting] if member_id in consenting else []


def _suggestion(request, kind, target, found, cycle) -> Suggestion:
    is_group = kind is SuggestionKind.GROUP
    return Suggestion(
        member_id=request.member_id,
        kind=kind,
        target=target,
        listing_id=found.listing_id if is_group else None,
        peer_id=None if is_group else found.member_id,
        cycle=cycle,
        score=found.score,
        reasons=list(found.reasons),
        match_request_id=request.id,
    )


def fail_match_request(kindred, request_id: int, error: str) -> None:
    with kindred.uow() as uow:
        request = uow.session.get(MatchRequest, request_id)
        if request is not None and request.status is not MatchRequestStatus.DONE:
            request.status, request.error = MatchRequestStatus.FAILED, error[:200]
            request.finished_at = utcnow()
            uow.commit()


# ---------------------------------------------------------------- the member's side


def current_suggestions(uow: UnitOfWork, caller: Principal) -> dict[str, list[Suggestion]]:
    """Open and "later" suggestions, best first; listings that closed since are left out."""
    require_role(caller, Role.MEMBER)
    with uow:
        rows = uow.session.scalars(
            sa.select(Suggestion)
            .where(Suggestion.member_id == caller.subject_id, Suggestion.status.in_(CURRENT))
            .order_by(Suggestion.score.desc(), Suggestion.id)
        ).all()
        groups = [
            s
            for s in rows
            if s.kind is SuggestionKind.GROUP and s.listing.status is ListingStatus.ACTIVE
        ]
        peers = [s for s in rows if s.kind is SuggestionKind.PEER]
        return {"groups": groups, "peers": peers}


def answer_suggestion(
    uow: UnitOfWork,
    caller: Principal,
    suggestion_id: int,
    answer: Answer,
    share_contact: bool = False,
) -> Suggestion:
    require_role(caller, Role.MEMBER)
    with uow:
        suggestion = uow.session.get(Suggestion, suggestion_id)
        if suggestion is None or suggestion.member_id != caller.subject_id:
            raise NotFound("no such suggestion")
        if share_contact and (answer is not Answer.YES or suggestion.kind is SuggestionKind.PEER):
            raise RuleViolation(
                "contact can only be shared with a yes to a group",
                {"share_contact": ["only with answer yes to a group suggestion"]},
            )
        if suggestion.status in (SuggestionStatus.YES, SuggestionStatus.NO):
            if suggestion.status.value == answer.value:
                return suggestion  # the same answer again changes nothing
            raise RuleViolation(
                "this suggestion was already answered",
                {"answer": [f"already answered {suggestion.status.value}"]},
            )
        suggestion.status = SuggestionStatus(answer.value)
        suggestion.answered_at = utcnow()
        suggestion.contact_shared = share_contact
        members.mark_active(uow, caller.subject_id)
        outbox.record(
            uow,
            EventKind.SUGGESTION_ANSWERED,
            subject("suggestion", suggestion.id),
            dedupe_key=f"SuggestionAnswered:{suggestion.id}:{answer.value}",
        )
        uow.commit()
        return suggestion
