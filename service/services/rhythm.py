"""The weekly rhythm: a re-match and a digest on each member's day, reminders before a session.

Both run from the scheduler and keep their state in the database, not in the scheduler: a
weekly round is a row (one per member and local week), a reminder is a notification (one per
member, listing and session date). A restarted scheduler, or two runs overlapping, therefore
neither repeats nor skips anything; a week missed while the scheduler was down is caught up as
soon as it is back, within the same week.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from service.adapters.orm import (
    Introduction,
    Listing,
    Member,
    Suggestion,
    WeeklyRound,
    utcnow,
)
from service.domain.events import subject
from service.domain.rhythm import digest_moment, local_week, next_session
from service.domain.vocabulary import (
    IntroductionStatus,
    ListingStatus,
    SuggestionKind,
    SuggestionStatus,
)
from service.services import follow_ups, matching, notifications, outbox
from service.services.unit_of_work import UnitOfWork

# Members started per transaction: a batch commits together, or is redone one by one.
ROUND_BATCH = 200
# A reminder goes out this long before a session the member said yes to.
REMINDER_LEAD = timedelta(hours=24)
# The digest lists sessions this far ahead.
DIGEST_HORIZON = timedelta(days=7)
# An introduction this recent is still worth a nudge to say hello.
RECENT_INTRODUCTION = timedelta(days=14)


# ---------------------------------------------------------------- weekly rounds


def start_weekly_rounds(kindred, now: datetime | None = None, limit: int = 5000) -> int:
    """Start this week's round for every consenting member whose digest time has come and who
    has not had one this week. Returns how many rounds were started."""
    now = now or utcnow()
    due = _members_due(kindred, now, limit)
    started = 0
    for start in range(0, len(due), ROUND_BATCH):
        started += _start_rounds(kindred, due[start : start + ROUND_BATCH])
    return started


def _members_due(kindred, now: datetime, limit: int) -> list[tuple[int, str]]:
    """(member id, local week) of members due a round. A member's due time depends only on
    their timezone and digest day, so it is worked out once per pair in use, not per member."""
    with kindred.uow() as uow:
        pairs = uow.session.execute(
            sa.select(Member.timezone, Member.digest_day)
            .where(Member.consent_matching.is_(True))
            .distinct()
        ).all()
        due: list[tuple[int, str]] = []
        for timezone, day in pairs:
            moment = digest_moment(now, timezone, day.value)
            if moment > now or len(due) >= limit:
                continue
            week = local_week(now, timezone)
            done = sa.select(WeeklyRound.id).where(
                WeeklyRound.member_id == Member.id, WeeklyRound.cycle == week
            )
            ids = uow.session.scalars(
                sa.select(Member.id)
                .where(
                    Member.consent_matching.is_(True),
                    Member.timezone == timezone,
                    Member.digest_day == day,
                    Member.created_at < moment,  # joined after it: their first round is next week
                    ~done.exists(),
                )
                .order_by(Member.id)
                .limit(limit - len(due))
            ).all()
            due.extend((member_id, week) for member_id in ids)
        return due


def _start_rounds(kindred, batch: list[tuple[int, str]]) -> int:
    try:
        with kindred.uow() as uow:
            for member_id, week in batch:
                _start_round(uow, member_id, week)
            uow.commit()
            return len(batch)
    except IntegrityError:  # an overlapping run started some of them: go one by one
        started = 0
        for member_id, week in batch:
            try:
                with kindred.uow() as uow:
                    _start_round(uow, member_id, week)
                    uow.commit()
                    started += 1
            except IntegrityError:
                continue
        return started


def _start_round(uow: UnitOfWork, member_id: int, week: str) -> None:
    weekly = WeeklyRound(member_id=member_id, cycle=week)
    uow.session.add(weekly)
    uow.flush()  # a round already there for this week fails here, before any request exists
    weekly.match_request_id = matching.new_request(uow, member_id, "weekly").id


def on_matches_ready(kindred, event_id: int, request_id: int) -> str:
    """A weekly round's matches become the digest; any other request's, a "ready" note."""
    with kindred.uow() as uow:
        round_id = uow.session.scalar(
            sa.select(WeeklyRound.id).where(WeeklyRound.match_request_id == request_id)
        )
    if round_id is None:
        return notifications.matches_ready(kindred, event_id, request_id)
    return send_digest(kindred, event_id, round_id)


# ---------------------------------------------------------------- the digest


def send_digest(kindred, event_id: int, round_id: int, now: datetime | None = None) -> str:
    now = now or utcnow()
    with kindred.uow() as uow:
        weekly = uow.session.get(WeeklyRound, round_id)
        if weekly.digest == "pending":
            weekly.digest = _digest(uow, weekly, now)
        outbox.mark_handled(uow, event_id)
        uow.commit()
        return weekly.digest


def _digest(uow: UnitOfWork, weekly: WeeklyRound, now: datetime) -> str:
    member = uow.members.get(weekly.member_id)
    current = uow.session.scalars(
        sa.select(Suggestion)
        .where(Suggestion.member_id == member.id, Suggestion.status.in_(matching.CURRENT))
        .order_by(Suggestion.score.desc())
    ).all()
    current = [s for s in current if s.listing is None or s.listing.status is ListingStatus.ACTIVE]
    new = [s for s in current if s.match_request_id == weekly.match_request_id]
    waiting = [s for s in current if s.match_request_id != weekly.match_request_id]
    declined = follow_ups.declined_by(uow, member.id)
    upcoming = [
        (starts, listing)
        for starts, listing in _upcoming_sessions(uow, member.id, now, now + DIGEST_HORIZON)
        if subject("listing", listing.id) not in declined
    ]
    # A keep-in-touch follow-up that could not go out on its own is this week's small step.
    follow_up = None
    if member.max_notifications_per_week >= 1:
        follow_up = follow_ups.step_for_digest(uow, member, now)
    if not (new or waiting or upcoming or follow_up):
        return "empty"  # quality over quantity: no message with nothing in it
    if member.max_notifications_per_week < 1:
        return "no_budget"
    step = follow_up or _small_step(uow, member, upcoming, new)
    notifications.notify(
        uow,
        member.id,
        "digest",
        subject("weekly_round", weekly.id),
        weekly.cycle,
        title="Your week with kindred",
        body=_digest_text(member, new, waiting, upcoming, step),
        link="/api/v1/members/me/suggestions",
    )
    return "sent"


def _upcoming_sessions(
    uow: UnitOfWork, member_id: int, after: datetime, until: datetime
) -> list[tuple[datetime, Listing]]:
    """The next session of each active listing the member said yes to, if before `until`."""
    sessions = []
    for listing in uow.listings.said_yes_by(member_id):
        starts = next_session(listing.weekly_slots, listing.sessions, listing.timezone, after)
        if starts is not None and starts <= until:
            sessions.append((starts, listing))
    return sorted(sessions, key=lambda pair: pair[0])


def _small_step(uow: UnitOfWork, member: Member, upcoming, new) -> str | None:
    """At most one small, concrete step, tied to something real in the member's week."""
    if upcoming:
        starts, listing = upcoming[0]
        return f"Go along to {listing.title} ({_when(starts, member.timezone)})."
    if _recently_introduced(uow, member.id):
        # No name: a digest stays when the person it would name is erased.
        return (
            "Send a short hello to someone you were introduced to recently (their name is on "
            "your Introductions page)."
        )
    groups = [s for s in new if s.kind is SuggestionKind.GROUP]
    if groups:
        best = groups[0]
        because = f": it {best.reasons[0]}" if best.reasons else ""
        return f"Have a look at {best.listing.title}{because}."
    return None


def _recently_introduced(uow: UnitOfWork, member_id: int) -> bool:
    """Whether the member was introduced to someone lately, and neither said "not for me"."""
    introduced = uow.session.scalars(
        sa.select(Introduction.id).where(
            sa.or_(
                Introduction.member_low_id == member_id, Introduction.member_high_id == member_id
            ),
            Introduction.status == IntroductionStatus.INTRODUCED,
            Introduction.introduced_at > utcnow() - RECENT_INTRODUCTION,
        )
    ).all()
    subjects = {subject("introduction", i) for i in introduced}
    return bool(subjects - follow_ups.declined_introductions(uow, subjects))


def _digest_text(member: Member, new, waiting, upcoming, step: str | None) -> str:
    lines = []
    groups = sum(1 for s in new if s.kind is SuggestionKind.GROUP)
    peers = len(new) - groups
    if groups or peers:
        found = []
        if groups:
            found.append(f"{groups} new group{'s' if groups != 1 else ''}")
        if peers:
            found.append(f"{peers} {'people' if peers != 1 else 'person'} who share your values")
        lines.append("This week: " + " and ".join(found) + ".")
    if waiting:
        lines.append(
            f"{len(waiting)} earlier suggestion{'s are' if len(waiting) != 1 else ' is'} "
            "still waiting for your answer."
        )
    for starts, listing in upcoming[:3]:
        lines.append(f"Coming up: {listing.title}, {_when(starts, member.timezone)}.")
    if step:
        lines.append(f"One small step: {step}")
    return "\n".join(lines)


def _when(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


# ---------------------------------------------------------------- reminders


def send_reminders(kindred, now: datetime | None = None) -> int:
    """Remind members of the next session of a listing they said yes to, a day ahead, within
    their budget. Returns how many reminders were added."""
    now = now or utcnow()
    with kindred.uow() as uow:
        soon = _sessions_starting(uow, now, now + REMINDER_LEAD)
        added = 0
        for listing, starts in soon:
            added += _remind(uow, listing, starts, now)
        uow.commit()
        return added


def _sessions_starting(uow: UnitOfWork, after: datetime, until: datetime):
    """(listing, next start) for active listings someone said yes to, starting in the window."""
    listings = uow.session.scalars(
        sa.select(Listing).where(
            Listing.status == ListingStatus.ACTIVE,
            Listing.id.in_(
                sa.select(Suggestion.listing_id).where(Suggestion.status == SuggestionStatus.YES)
            ),
        )
    ).unique()
    soon = []
    for listing in listings:
        starts = next_session(listing.weekly_slots, listing.sessions, listing.timezone, after)
        if starts is not None and starts <= until:
            soon.append((listing, starts))
    return soon


def _remind(uow: UnitOfWork, listing: Listing, starts: datetime, now: datetime) -> int:
    members = uow.session.scalars(
        sa.select(Member)
        .join(Suggestion, Suggestion.member_id == Member.id)
        .where(Suggestion.listing_id == listing.id, Suggestion.status == SuggestionStatus.YES)
    ).all()
    declined = follow_ups.members_who_declined(uow, subject("listing", listing.id))
    members = [member for member in members if member.id not in declined]
    room = notifications.room_for_nudges(uow, members, now)
    session_day = starts.astimezone(ZoneInfo(listing.timezone)).date().isoformat()
    added = 0
    for member in members:
        if room[member.id] < 1:
            continue
        added += int(
            notifications.notify(
                uow,
                member.id,
                "reminder",
                subject("listing", listing.id),
                session_day,  # one reminder per session
                expires_at=starts,
                title=f"Coming up: {listing.title}",
                body=f"{listing.title} meets {_when(starts, member.timezone)}. You said yes to it; "
                "if you cannot go this time, that is fine.",
                link=f"/api/v1/listings/{listing.id}",
            )
        )
    return added
