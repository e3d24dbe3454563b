"""Sixteen weeks of invented history for the demo city, so the Outcomes page has something to show:
yeses to listings, sessions attended (some members going back, some not), introductions with
keep-in-touch replies, and monthly connection check-ins for members who gave that consent.

The rest of the demo goes through the use cases; this part cannot (attendance is recordable for
60 days, and the check-in is answered by the member on the day), so it writes the rows the use
cases and jobs would have written, in bulk. Randomness has its own fixed seed, so the rest of the
demo stays as it was.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from service.adapters.orm import (
    ConnectionCheckIn,
    ConsentRecord,
    FollowUp,
    Introduction,
    Listing,
    Member,
    SessionAttendance,
    Suggestion,
    utcnow,
)
from service.domain.events import cycle_of
from service.domain.vocabulary import (
    Consent,
    IntroductionStatus,
    ListingStatus,
    SuggestionKind,
    SuggestionStatus,
)

WEEKS = 16
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# A few listings draw most people, as in any city: their months pass the outcome figures'
# minimum group size, the quiet ones' do not.
POPULAR_SHARE = 0.7
POPULAR_LISTINGS = 5


@dataclass(frozen=True)
class Goer:
    member_id: int
    start_slowly: bool


def add_history(kindred, seed: int = 8, now: datetime | None = None, progress=None) -> dict:
    """Writes the history; returns how many rows of each kind (for the seed's summary)."""
    rng = random.Random(seed)
    now = now or utcnow()
    today = now.astimezone(UTC).date()
    start = today - timedelta(weeks=WEEKS)
    counts = {}
    with kindred.uow(publish=False) as uow:
        session = uow.session
        listings = session.execute(
            sa.select(Listing.id, Listing.weekly_slots)
            .where(Listing.status == ListingStatus.ACTIVE, Listing.is_virtual.is_(False))
            .order_by(Listing.id)
        ).all()
        members = session.execute(
            sa.select(
                Member.id,
                Member.start_slowly,
                Member.consent_matching,
                Member.consent_peer_introductions,
            ).order_by(Member.id)
        ).all()
        if not listings or not members:
            return counts
        visits = _yeses_and_visits(session, rng, listings, members, start, today, counts)
        _step(progress)
        _introductions(session, rng, members, visits, start, today, counts)
        _step(progress)
        _checkins(session, rng, members, start, now, counts)
        _step(progress)
        uow.commit()
    return counts


def _step(progress) -> None:
    if progress is not None:
        progress.update(1)


def _session_days(weekly_slots: list, start: date, today: date) -> list[date]:
    """Every day the listing met between start and today (its first weekly slot)."""
    day = DAYS.index(weekly_slots[0]["day"]) if weekly_slots else 5
    first = start + timedelta(days=(day - start.weekday()) % 7)
    return [
        first + timedelta(weeks=n) for n in range(WEEKS + 1) if first + timedelta(weeks=n) <= today
    ]


def _yeses_and_visits(session, rng, listings, members, start, today, counts):
    """About two in three members open to matching said yes to a group (one in four to a
    second); most went once, about half went back, some became regulars."""
    popular = {row.id for row in rng.sample(listings, min(POPULAR_LISTINGS, len(listings)))}
    weights = [
        POPULAR_SHARE / len(popular)
        if row.id in popular
        else (1 - POPULAR_SHARE) / max(len(listings) - len(popular), 1)
        for row in listings
    ]
    days_of = {row.id: _session_days(row.weekly_slots, start, today) for row in listings}
    yeses, attended, visits = [], [], {}
    for member in members:
        if not member.consent_matching or rng.random() > 0.65:
            continue
        chosen = {rng.choices(listings, weights)[0].id}
        if rng.random() < 0.25:
            chosen.add(rng.choices(listings, weights)[0].id)
        for listing_id in sorted(chosen):
            days = days_of[listing_id]
            if not days:
                continue
            first = rng.randrange(len(days))
            said_yes = datetime.combine(
                days[first] - timedelta(days=rng.randint(2, 9)), time(19), UTC
            )
            yeses.append(
                {
                    "member_id": member.id,
                    "kind": SuggestionKind.GROUP,
                    "target": f"listing:{listing_id}",
                    "listing_id": listing_id,
                    "cycle": cycle_of(said_yes),
                    "score": round(rng.uniform(0.55, 0.9), 3),
                    "reasons": ["Close to you and at a time you are free"],
                    "status": SuggestionStatus.YES,
                    "created_at": said_yes - timedelta(days=1),
                    "answered_at": said_yes,
                    "contact_shared": rng.random() < 0.5,
                }
            )
            went = [days[first]]
            # Going back: a little likelier for "start slowly" members, whose first groups are
            # small and low-key; then most weeks for a while.
            if rng.random() < (0.6 if member.start_slowly else 0.5):
                later = days[first + 1 : first + 1 + rng.randint(1, 8)]
                went += [day for day in later if rng.random() < 0.8]
            for day in went:
                attended.append(
                    {
                        "member_id": member.id,
                        "listing_id": listing_id,
                        "session_on": day,
                        "recorded_by": rng.choice(["member", "partner"]),
                        "created_at": datetime.combine(day, time(21), UTC),
                    }
                )
            visits.setdefault(member.id, []).extend((listing_id, day) for day in went)
    _insert(session, Suggestion, yeses)
    _insert(session, SessionAttendance, attended)
    counts["yeses"], counts["attendances"] = len(yeses), len(attended)
    return visits


def _introductions(session, rng, members, visits, start, today, counts):
    """Pairs who both agreed to peer introductions, spread over the weeks; a week on, each got
    a follow-up, and some said they kept in touch; some pairs then met at a session."""
    open_to_peers = [member.id for member in members if member.consent_peer_introductions]
    pairs: set[tuple[int, int]] = set()
    wanted = len(members) // 4
    while len(pairs) < wanted and len(open_to_peers) > 1:
        low, high = sorted(rng.sample(open_to_peers, 2))
        pairs.add((low, high))
    introductions = []
    for low, high in sorted(pairs):
        day = start + timedelta(days=rng.randint(0, WEEKS * 7 - 3))
        introduced_at = datetime.combine(day, time(rng.randint(9, 20)), UTC)
        introductions.append(
            {
                "member_low_id": low,
                "member_high_id": high,
                "status": IntroductionStatus.INTRODUCED,
                "created_at": introduced_at - timedelta(days=rng.randint(1, 4)),
                "introduced_at": introduced_at,
            }
        )
    _insert(session, Introduction, introductions)
    made = session.execute(
        sa.select(
            Introduction.id,
            Introduction.member_low_id,
            Introduction.member_high_id,
            Introduction.introduced_at,
        )
    ).all()
    follow_ups, together = [], []
    for introduction in made:
        introduced_on = introduction.introduced_at.astimezone(UTC).date()
        due = introduced_on + timedelta(days=7)
        if due > today:
            continue
        met = _meet_at_a_session(rng, introduction, visits, introduced_on, today)
        if met:
            together.append(met)
        for member_id in (introduction.member_low_id, introduction.member_high_id):
            draw = rng.random()
            reply = "kept_in_touch" if draw < (0.45 if met else 0.25) else None
            if reply is None and draw > 0.9:
                reply = "not_for_me"
            follow_ups.append(
                {
                    "member_id": member_id,
                    "subject": f"introduction:{introduction.id}",
                    "introduction_id": introduction.id,
                    "step": 1,
                    "due_on": due,
                    "delivered_by": "notification",
                    "created_at": datetime.combine(due, time(9, 30), UTC),
                    "reply": reply,
                    "replied_at": datetime.combine(due, time(18), UTC) if reply else None,
                }
            )
    _insert(session, FollowUp, follow_ups)
    _insert(session, SessionAttendance, together)
    counts["introductions"], counts["follow_ups"] = len(introductions), len(follow_ups)


def _meet_at_a_session(rng, introduction, visits, introduced_on, today):
    """One in five pairs: the second goes along to a session of a group the first goes to."""
    if rng.random() > 0.2:
        return None
    low, high = introduction.member_low_id, introduction.member_high_id
    going = [(lid, day) for lid, day in visits.get(low, []) if introduced_on <= day <= today]
    taken = set(visits.get(high, []))
    going = [visit for visit in going if visit not in taken]
    if not going:
        return None
    listing_id, day = rng.choice(going)
    visits.setdefault(high, []).append((listing_id, day))
    return {
        "member_id": high,
        "listing_id": listing_id,
        "session_on": day,
        "recorded_by": "member",
        "created_at": datetime.combine(day, time(21), UTC),
    }


def _months(start: date, today: date) -> list[tuple[str, date]]:
    """Each calendar month from start's to today's, with a day in it on which to answer."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (today.year, today.month):
        answered = date(year, month, 3) if (year, month) != (today.year, today.month) else today
        months.append((f"{year:04d}-{month:02d}", max(answered, start)))
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return months


def _checkins(session, rng, members, start, now, counts):
    """Nearly half the members agreed to the monthly check-in; most answer each month. Members
    who chose "start slowly" begin a little lonelier and improve a little more."""
    today = now.astimezone(UTC).date()
    consented_at = datetime.combine(start, time(10), UTC)
    consenting = [m for m in members if m.consent_matching and rng.random() < 0.45]
    if not consenting:
        return
    session.execute(
        sa.update(Member)
        .where(Member.id.in_([m.id for m in consenting]))
        .values(
            consent_connection_checkin=True,
            consent_connection_checkin_at=consented_at,
            updated_at=Member.updated_at,
        )
    )
    _insert(
        session,
        ConsentRecord,
        [
            {
                "member_id": m.id,
                "purpose": Consent.CONNECTION_CHECKIN,
                "granted": True,
                "recorded_at": consented_at,
            }
            for m in consenting
        ],
    )
    rows = []
    for member in consenting:
        baseline = rng.gauss(6.4 if member.start_slowly else 5.8, 1.2)
        better_by = 0.35 if member.start_slowly else 0.15  # a month
        for index, (month, day) in enumerate(_months(start, today)):
            if rng.random() > 0.85:
                continue
            score = round(baseline - better_by * index + rng.gauss(0, 0.7))
            score = min(max(score, 3), 9)
            items = [1, 1, 1]
            for step in rng.sample(range(6), score - 3):
                items[step % 3] += 1
            rows.append(
                {
                    "member_id": member.id,
                    "month": month,
                    "lack_companionship": items[0],
                    "left_out": items[1],
                    "isolated": items[2],
                    "score": score,
                    "answered_at": min(datetime.combine(day, time(20), UTC), now),
                }
            )
    _insert(session, ConnectionCheckIn, rows)
    counts["checkins"] = len(rows)


def _insert(session, model, rows: list[dict]) -> None:
    if rows:
        session.execute(sa.insert(model), rows)
