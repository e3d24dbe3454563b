"""The connection check-in: the three-item UCLA Loneliness Scale (Hughes et al. 2004), offered
monthly and only with its own consent.

Knowing the signs of isolation helps (DESIGN.md), so a member may answer three short questions
once a month and watch their own trend. What this module promises:

- the answers are the member's alone: only their own requests read them (the API, their page,
  their export); coordinators get aggregates over groups of ten or more elsewhere, never rows;
- one row per member and local month: answering again that month replaces the answers;
- nothing here diagnoses: a score of 6 or more (of 3 to 9) adds a note saying where
  professional help is found, in words that describe the answers, not the person;
- withdrawing the consent deletes every answer (privacy.withdraw_from_checkins) and stops the
  monthly offer; logs and jobs carry ids and counts only, never an answer or a score.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from service.adapters.orm import ConnectionCheckIn, Member, Notification, utcnow
from service.domain.credentials import Principal
from service.domain.errors import Conflict
from service.domain.events import subject
from service.domain.rhythm import in_daytime, local_month
from service.services import members, notifications
from service.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Question:
    key: str
    text: str


# The three items of the short UCLA scale, in its own words and order.
QUESTIONS = (
    Question("lack_companionship", "How often do you feel that you lack companionship?"),
    Question("left_out", "How often do you feel left out?"),
    Question("isolated", "How often do you feel isolated from others?"),
)
ITEMS = tuple(question.key for question in QUESTIONS)
CHOICES = ((1, "Hardly ever"), (2, "Some of the time"), (3, "Often"))
LOWEST, HIGHEST = 3, 9  # the score: the sum of the three answers
# From this score on, the member's view names where professional help is found.
SUPPORT_FROM_SCORE = 6
TREND_MONTHS = 12
OFFER_KIND = "checkin_offer"
LINK = "/api/v1/members/me/connection-check-ins"
FIND_A_HELPLINE = "https://findahelpline.com"


@dataclass(frozen=True)
class Place:
    """Somewhere professional help is found."""

    name: str
    detail: str
    url: str | None = None


@dataclass(frozen=True)
class SupportNote:
    message: str
    places: list[Place]


@dataclass(frozen=True)
class Month:
    month: str
    lack_companionship: int
    left_out: int
    isolated: int
    score: int
    answered_at: datetime


@dataclass(frozen=True)
class MyCheckIn:
    """Everything the member's own page and GET show."""

    consent: bool
    month: str  # this local month
    answered_this_month: bool
    this_month: Month | None
    trend: list[Month]  # oldest first, at most TREND_MONTHS
    support: SupportNote | None


@dataclass(frozen=True)
class Answered:
    month: str
    answered_at: datetime
    replaced: bool  # this month had answers already


# ---------------------------------------------------------------- the member's side


def answer(
    uow: UnitOfWork, caller: Principal, answers: dict[str, int], now: datetime | None = None
) -> Answered:
    """Record this local month's answers, replacing earlier ones of the same month. Two at
    once (a double click) leave one row: the one that loses the race to insert updates it."""
    now = now or utcnow()
    _check(answers)
    values = {item: answers[item] for item in ITEMS}
    score = sum(values.values())
    try:
        return _store(uow, caller, values, score, now)
    except IntegrityError:  # the other request inserted this month's row first
        return _store(uow, caller, values, score, now)


def _store(uow, caller, values: dict[str, int], score: int, now: datetime) -> Answered:
    with uow:
        member = members.own_member(uow, caller)
        _require_consent(member)
        month = local_month(now, member.timezone)
        row = uow.session.scalar(
            sa.select(ConnectionCheckIn).where(
                ConnectionCheckIn.member_id == member.id, ConnectionCheckIn.month == month
            )
        )
        replaced = row is not None
        if row is None:
            row = ConnectionCheckIn(member_id=member.id, month=month)
            uow.session.add(row)
        for item, value in values.items():
            setattr(row, item, value)
        row.score, row.answered_at = score, now
        members.mark_active(uow, member.id)
        uow.commit()
        log.info("connection check-in recorded for member %s", member.id)  # ids only
        return Answered(month, now, replaced)


def my_check_in(
    uow: UnitOfWork, caller: Principal, support_url: str | None, now: datetime | None = None
) -> MyCheckIn:
    now = now or utcnow()
    with uow:
        member = members.own_member(uow, caller)
        month = local_month(now, member.timezone)
        rows = uow.session.scalars(
            sa.select(ConnectionCheckIn)
            .where(ConnectionCheckIn.member_id == member.id)
            .order_by(ConnectionCheckIn.month.desc())
            .limit(TREND_MONTHS)
        ).all()
        trend = [_month(row) for row in reversed(rows)]
        this_month = next((m for m in trend if m.month == month), None)
        latest = trend[-1] if trend else None
        support = (
            support_note(support_url)
            if latest is not None and latest.score >= SUPPORT_FROM_SCORE
            else None
        )
        return MyCheckIn(
            member.consent_connection_checkin,
            month,
            this_month is not None,
            this_month,
            trend,
            support,
        )


def support_note(support_url: str | None) -> SupportNote:
    """Where professional help is found. It describes the answers, never the person: the three
    questions notice change over time, they cannot tell what is wrong."""
    places = [
        Place(
            "Your doctor (GP)",
            "Talking to your doctor is a good first step: they can tell you what support is "
            "near you.",
        ),
        Place(
            "A helpline",
            "Free, confidential helplines in your country, many open day and night, are listed "
            "at findahelpline.com.",
            FIND_A_HELPLINE,
        ),
        Place(
            "Your local emergency number",
            "If you feel unsafe or might harm yourself, call your local emergency number now "
            "(for example 999 or 112 in the UK and Europe, 911 in the US).",
        ),
    ]
    if support_url:
        places.append(
            Place(
                "Support services near you",
                "Counselling, listening lines and other local support.",
                support_url,
            )
        )
    return SupportNote(
        "Thank you for answering. Your answers this month say that feeling alone or left out "
        "came up often. That happens to many people, and you do not have to manage it on your "
        "own: talking to someone can help. kindred is not a clinical service, and these three "
        "questions only help you notice changes over time. Professional help is found here:",
        places,
    )


def _check(answers: dict[str, int]) -> None:
    """The API's schema checks the same; this keeps the use case safe on its own."""
    for item in ITEMS:
        value = answers.get(item)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3:
            raise ValueError(f"{item} must be 1, 2 or 3")


def _require_consent(member: Member) -> None:
    if not member.consent_connection_checkin:
        raise Conflict(
            "the connection check-in needs its own consent first: "
            'PUT /api/v1/members/me/consents with "connection_checkin": true',
            {"connection_checkin": ["consent not given"]},
        )


def _month(row: ConnectionCheckIn) -> Month:
    return Month(
        row.month, row.lack_companionship, row.left_out, row.isolated, row.score, row.answered_at
    )


# ---------------------------------------------------------------- the monthly offer


def offer_connection_checkins(kindred, now: datetime | None = None) -> int:
    """Offer this month's check-in to members with the consent who have not answered it yet:
    once per member and local month, after 09:00 local time, outside their quiet hours and
    within their weekly budget (without room it is tried again the next hour, and a month
    without room offers nothing). Returns how many offers went out."""
    now = now or utcnow()
    with kindred.uow() as uow:
        waiting = _waiting_in_daytime(uow, now)
    sent = sum(_offer_one(kindred, member_id, now) for member_id in waiting)
    if sent:
        log.info("connection check-in offered to %d member(s)", sent)
    return sent


def _waiting_in_daytime(uow: UnitOfWork, now: datetime) -> list[int]:
    """Members with the consent, in their daytime now, whose local month has neither answers
    nor an offer. The months in use at one instant are two at most (time zones straddle a
    month's turn), so what is done is read by month, not by a list of every member's id."""
    consenting = uow.session.execute(
        sa.select(
            Member.id, Member.timezone, Member.quiet_hours_start, Member.quiet_hours_end
        ).where(Member.consent_connection_checkin.is_(True))
    ).all()
    months = {
        member_id: local_month(now, zone)
        for member_id, zone, quiet_start, quiet_end in consenting
        if in_daytime(now, zone, quiet_start, quiet_end)
    }
    if not months:
        return []
    in_use = set(months.values())
    done = set(
        uow.session.execute(
            sa.select(ConnectionCheckIn.member_id, ConnectionCheckIn.month).where(
                ConnectionCheckIn.month.in_(in_use)
            )
        ).all()
    )
    done |= set(
        uow.session.execute(
            sa.select(Notification.member_id, Notification.cycle).where(
                Notification.kind == OFFER_KIND, Notification.cycle.in_(in_use)
            )
        ).all()
    )
    return [member_id for member_id, month in months.items() if (member_id, month) not in done]


def _offer_one(kindred, member_id: int, now: datetime) -> int:
    """One member's offer in its own transaction; a second run's duplicate fails on the
    notification's unique key and changes nothing."""
    try:
        with kindred.uow() as uow:
            member = uow.members.get(member_id)
            if member is None or not member.consent_connection_checkin:
                return 0  # withdrawn or erased since the scan
            month = local_month(now, member.timezone)
            if _answered(uow, member.id, month):
                return 0  # answered since the scan
            if notifications.room_for_nudges(uow, [member], now)[member.id] < 1:
                return 0
            added = notifications.notify(
                uow,
                member.id,
                OFFER_KIND,
                subject("member", member.id),
                month,
                title="Your monthly connection check-in",
                body=(
                    "Three short questions about how connected you have felt lately. Only you "
                    "see your answers and your trend. You can stop these check-ins at any time "
                    "on the check-in page."
                ),
                link=LINK,
            )
            if not added:
                return 0
            uow.commit()
            return 1
    except IntegrityError:
        return 0


def _answered(uow: UnitOfWork, member_id: int, month: str) -> bool:
    query = sa.select(ConnectionCheckIn.id).where(
        ConnectionCheckIn.member_id == member_id, ConnectionCheckIn.month == month
    )
    return uow.session.scalar(query) is not None
