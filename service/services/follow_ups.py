"""Keep in touch: gentle follow-ups a week and three weeks after an introduction, or after the
first session of a listing the member said yes to, each with one small, concrete step.

New chats fizzle and first visits stay first visits unless something nudges the second one
(DESIGN.md: regular contact, start slowly, quality over quantity). So a follow-up

- goes out once: a FollowUp row per member, subject and step (a job run twice adds none);
- on its day and in the member's daytime: after 09:00 local, never in their quiet hours;
- within their weekly budget; without room it waits for the member's next digest and becomes
  its one small step, and once a week late it is dropped (late news would be nagging);
- never after a no: a "no" to the listing, an introduction closed, or the member's own "not for
  me" reply ends that subject's follow-ups. Members can snooze them or turn them off.

Nothing here is stored ahead: what is due is worked out from introductions, yeses and the
listings' timetables each time, so a changed timetable or a withdrawn yes is simply followed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from service.adapters.orm import (
    FollowUp,
    Introduction,
    Listing,
    Member,
    SessionAttendance,
    Suggestion,
    utcnow,
)
from service.domain.credentials import Principal
from service.domain.errors import NotFound
from service.domain.events import subject
from service.domain.rhythm import in_daytime, next_session
from service.domain.vocabulary import (
    Direction,
    IntroductionStatus,
    ListingKind,
    ListingStatus,
    SuggestionKind,
    SuggestionStatus,
)
from service.services import members, notifications
from service.services.unit_of_work import UnitOfWork

# Step 1 a week after the introduction or first session, step 2 three weeks after.
STEP_AFTER = {1: timedelta(days=7), 2: timedelta(days=21)}
# A follow-up is sent on its own up to this many days after its day...
OWN_MESSAGE_DAYS = 2
# ...and carried by a digest up to a week after it; later than that it is dropped.
DIGEST_DAYS = 7
# A yes this old may still have its first session recent enough to follow up.
YES_LOOK_BACK = timedelta(days=120)
# At most one follow-up message a member per day, whatever else is due.
ONE_A_DAY = timedelta(hours=20)
REPLIES = ("kept_in_touch", "not_for_me")
LINK = "/api/v1/members/me/follow-ups"
# Ids per IN (...) list: SQLite allows 32,766 bound values a statement, PostgreSQL 65,535.
CHUNK = 5000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Due:
    """A follow-up whose day has come and that has not gone out."""

    member_id: int
    subject: str
    step: int
    due_on: date
    introduction_id: int | None = None
    listing_id: int | None = None


@dataclass(frozen=True)
class Message:
    title: str
    step: str  # the one small, concrete thing to do
    # The same step as a digest says it: without anyone's name, because a digest is not
    # erased with the people it mentions (a follow-up of its own is, by its subject).
    digest_step: str


# ---------------------------------------------------------------- what is due


def due_follow_ups(
    uow: UnitOfWork, now: datetime, late_days: int, member_id: int | None = None
) -> list[Due]:
    """Follow-ups due today or up to `late_days` ago, for members who want them, oldest first;
    one member's only when `member_id` is given."""
    candidates = _after_introductions(uow, now, late_days, member_id)
    candidates += _after_first_sessions(uow, now, late_days, member_id)
    return sorted(_wanted(uow, candidates, now), key=lambda due: (due.due_on, due.subject))


def _after_introductions(uow, now, late_days, member_id) -> list[Due]:
    """Both sides of each introduction, while both still consent to introductions: someone
    who withdrew that consent is not to be "kept in touch" with."""
    oldest = now - STEP_AFTER[2] - timedelta(days=late_days + 1)
    low, high = aliased(Member), aliased(Member)
    query = (
        sa.select(Introduction.id, Introduction.introduced_at)
        .add_columns(low.id, low.timezone, high.id, high.timezone)
        .join(low, low.id == Introduction.member_low_id)
        .join(high, high.id == Introduction.member_high_id)
        .where(
            Introduction.status == IntroductionStatus.INTRODUCED,
            Introduction.introduced_at > oldest,
            low.consent_peer_introductions.is_(True),
            high.consent_peer_introductions.is_(True),
        )
    )
    if member_id is not None:  # on the table's own columns: each side's index serves the OR
        query = query.where(
            sa.or_(
                Introduction.member_low_id == member_id, Introduction.member_high_id == member_id
            )
        )
    due = []
    for introduction_id, introduced_at, *sides in uow.session.execute(query):
        about = subject("introduction", introduction_id)
        for who, timezone in (sides[:2], sides[2:]):
            if member_id is not None and who != member_id:
                continue
            for step, on in _steps_due(introduced_at, timezone, now, late_days):
                due.append(Due(who, about, step, on, introduction_id=introduction_id))
    return due


def _after_first_sessions(uow, now, late_days, member_id) -> list[Due]:
    # Columns, not Listing objects: this reads every yes of four months, every ten minutes.
    look_back = now - YES_LOOK_BACK
    query = (
        sa.select(
            Suggestion.member_id,
            Suggestion.answered_at,
            Member.timezone,
            Listing.id,
            Listing.weekly_slots,
            Listing.sessions,
            Listing.timezone,
        )
        .join(Listing, Listing.id == Suggestion.listing_id)
        .join(Member, Member.id == Suggestion.member_id)
        .where(
            Suggestion.kind == SuggestionKind.GROUP,
            Suggestion.status == SuggestionStatus.YES,
            Listing.status == ListingStatus.ACTIVE,
        )
    )
    if member_id is None:
        query = query.where(Suggestion.answered_at > look_back)
    else:
        # One member's few yeses, by (member_id, status), their age checked below: with
        # answered_at in the query SQLite (no statistics) walked every recent yes instead,
        # 0.2 s a member at 100,000 members.
        query = query.where(Suggestion.member_id == member_id)
    due = []
    for row in uow.session.execute(query):
        who, answered_at, timezone, listing_id, slots, sessions, listing_zone = row
        if answered_at is None or answered_at <= look_back:
            continue
        first = next_session(slots, sessions, listing_zone, answered_at)
        if first is None or first > now:
            continue
        about = subject("listing", listing_id)
        for step, on in _steps_due(first, timezone, now, late_days):
            due.append(Due(who, about, step, on, listing_id=listing_id))
    return due


def _steps_due(start: datetime, timezone: str, now: datetime, late_days: int):
    """(step, its local day) for the steps whose day is today or up to `late_days` ago. Days
    are counted on the member's calendar, so a clock change in between moves nothing."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    started = start.astimezone(zone).date()
    for step, after in STEP_AFTER.items():
        on = started + after
        if on <= today <= on + timedelta(days=late_days):
            yield step, on


def _wanted(uow: UnitOfWork, candidates: list[Due], now: datetime) -> list[Due]:
    """Drop what went out already, what was declined, and everything for members who turned
    follow-ups off or snoozed them."""
    if not candidates:
        return []
    member_ids = list({due.member_id for due in candidates})
    wanting, sent, declined = set(), set(), set()
    for chunk in _chunks(member_ids):
        wanting.update(
            uow.session.scalars(
                sa.select(Member.id).where(
                    Member.id.in_(chunk),
                    Member.follow_ups_enabled.is_(True),
                    sa.or_(
                        Member.follow_ups_snoozed_until.is_(None),
                        Member.follow_ups_snoozed_until <= now,
                    ),
                )
            )
        )
        done = uow.session.execute(
            sa.select(FollowUp.member_id, FollowUp.subject, FollowUp.step, FollowUp.reply).where(
                FollowUp.member_id.in_(chunk)
            )
        )
        for member, about, step, answer in done:
            sent.add((member, about, step))
            if answer == "not_for_me":
                declined.add((member, about))
    # Either side's "not for me" ends an introduction's follow-ups for both: nobody is nudged
    # towards someone who would rather not.
    ended = declined_introductions(uow, {d.subject for d in candidates if d.introduction_id})
    return [
        due
        for due in candidates
        if due.member_id in wanting
        and (due.member_id, due.subject, due.step) not in sent
        and (due.member_id, due.subject) not in declined
        and due.subject not in ended
    ]


def declined_introductions(uow: UnitOfWork, subjects: Iterable[str]) -> set[str]:
    """Those of the introductions' subjects that either member said "not for me" to."""
    ended = set()
    for chunk in _chunks(list(subjects)):
        ended.update(
            uow.session.scalars(
                sa.select(FollowUp.subject).where(
                    FollowUp.subject.in_(chunk), FollowUp.reply == "not_for_me"
                )
            )
        )
    return ended


def declined_by(uow: UnitOfWork, member_id: int) -> set[str]:
    """Subjects the member said "not for me" to: the digest and reminders leave them out."""
    return set(
        uow.session.scalars(
            sa.select(FollowUp.subject).where(
                FollowUp.member_id == member_id, FollowUp.reply == "not_for_me"
            )
        )
    )


def members_who_declined(uow: UnitOfWork, about: str) -> set[int]:
    """Members who said "not for me" to this subject: no reminders about it either."""
    return set(
        uow.session.scalars(
            sa.select(FollowUp.member_id).where(
                FollowUp.subject == about, FollowUp.reply == "not_for_me"
            )
        )
    )


def _chunks(values: list) -> list[list]:
    return [values[start : start + CHUNK] for start in range(0, len(values), CHUNK)]


# ---------------------------------------------------------------- sending


def send_follow_ups(kindred, now: datetime | None = None) -> int:
    """Send today's follow-ups as their own messages, to members in their daytime with room in
    their budget, one a member a day. Returns how many went out. One member's failure does
    not hold up the others; the job fails afterwards so that it shows."""
    now = now or utcnow()
    with kindred.uow() as uow:
        due = due_follow_ups(uow, now, OWN_MESSAGE_DAYS)
    first_each = {}
    for item in due:
        first_each.setdefault(item.member_id, item)
    sent, failed = 0, []
    for item in first_each.values():
        try:
            sent += _send_one(kindred, item, now)
        except Exception:
            log.exception("follow-up for member %s failed", item.member_id)
            failed.append(item.member_id)
    if failed:
        raise RuntimeError(
            f"{len(failed)} follow-up(s) failed (members {failed[:10]}); {sent} sent"
        )
    return sent


def _send_one(kindred, due: Due, now: datetime) -> int:
    """One member's follow-up in its own transaction, checked again in it: the member may
    have said no, turned follow-ups off or left since the scan. A run that loses a race with
    another (the same row) sends nothing."""
    try:
        with kindred.uow() as uow:
            member = uow.members.get(due.member_id)
            if member is None or due not in due_follow_ups(
                uow, now, OWN_MESSAGE_DAYS, member_id=member.id
            ):
                return 0
            quiet = (member.quiet_hours_start, member.quiet_hours_end)
            if not in_daytime(now, member.timezone, *quiet) or _had_one_today(uow, member.id, now):
                return 0
            if notifications.room_for_nudges(uow, [member], now)[member.id] < 1:
                return 0  # the next digest may carry it
            message = _message(uow, member, due, now)
            _record(uow, due, "notification", now)
            notifications.notify(
                uow,
                member.id,
                "follow_up",
                due.subject,
                f"step{due.step}",
                title=message.title,
                body=f"{message.step}\n\n{_how_to_answer()}",
                link=LINK,
            )
            uow.commit()
            return 1
    except IntegrityError:
        return 0


def _had_one_today(uow: UnitOfWork, member_id: int, now: datetime) -> bool:
    return (
        uow.session.scalar(
            sa.select(FollowUp.id).where(
                FollowUp.member_id == member_id, FollowUp.created_at > now - ONE_A_DAY
            )
        )
        is not None
    )


def _record(uow: UnitOfWork, due: Due, delivered_by: str, now: datetime) -> FollowUp:
    follow_up = FollowUp(
        member_id=due.member_id,
        subject=due.subject,
        step=due.step,
        due_on=due.due_on,
        introduction_id=due.introduction_id,
        listing_id=due.listing_id,
        delivered_by=delivered_by,
        created_at=now,
    )
    uow.session.add(follow_up)
    uow.flush()  # a second run's row fails here, before any message is added
    return follow_up


def _how_to_answer() -> str:
    return (
        'On your "Going back" page you can say you kept in touch, or that this one is not for '
        "you (no more about it). You can snooze these follow-ups or turn them off there too."
    )


def step_for_digest(uow: UnitOfWork, member: Member, now: datetime) -> str | None:
    """The small step of this week's digest when a follow-up is due and has not gone out on
    its own (no room in the budget, or it fell in a quiet stretch): recorded as carried by the
    digest, in the digest's transaction. None when one went out today already, or when a
    follow-up job recorded the same one a moment ago (a savepoint keeps the digest going)."""
    if _had_one_today(uow, member.id, now):
        return None
    due = due_follow_ups(uow, now, DIGEST_DAYS, member_id=member.id)
    if not due:
        return None
    message = _message(uow, member, due[0], now)
    try:
        with uow.session.begin_nested():
            _record(uow, due[0], "digest", now)
    except IntegrityError:
        return None
    return message.digest_step


# ---------------------------------------------------------------- the words


def _message(uow: UnitOfWork, member: Member, due: Due, now: datetime) -> Message:
    late = due.due_on < now.astimezone(ZoneInfo(member.timezone)).date()
    if due.introduction_id is not None:
        return _introduction_message(uow, member, due, late)
    return _listing_message(uow, member, due, now)


def _introduction_message(uow: UnitOfWork, member: Member, due: Due, late: bool) -> Message:
    introduction = uow.session.get(Introduction, due.introduction_id)
    other = _other_member(introduction, member.id)
    peer = uow.members.get(other).display_name
    met_at = _where_they_met(uow, member, other, introduction.introduced_at)
    if due.step == 1:
        when = "recently" if late else "a week ago"
        step = (
            f"You and {peer} were both at {met_at}; send them a note?"
            if met_at
            else f"You and {peer} were introduced {when}: send a short note to say hello?"
        )
        digest_step = (
            "Send a short hello to the person you were introduced to "
            f"{when} (their name is on your Introductions page)."
        )
    else:
        when = "A few weeks" if late else "Three weeks"
        step = (
            f"{when} since you and {peer} were introduced. Greet them again, or suggest "
            "going along to something together: new friendships grow from regular contact."
        )
        digest_step = (
            f"{when} since an introduction: greet them again, or suggest going along to "
            "something together."
        )
    return Message(f"Keep in touch with {peer}", step, digest_step)


def _other_member(introduction: Introduction, member_id: int) -> int:
    if introduction.member_low_id == member_id:
        return introduction.member_high_id
    return introduction.member_low_id


def _where_they_met(uow, member: Member, other_id: int, since: datetime) -> str | None:
    """The title of a listing both went to on the same day since their introduction (the
    member's own calendar day); never a support group, whose name says more about the
    member than a note needs to (and may travel by email)."""
    mine = aliased(SessionAttendance)
    theirs = aliased(SessionAttendance)
    introduced_on = since.astimezone(ZoneInfo(member.timezone)).date()
    return uow.session.scalar(
        sa.select(Listing.title)
        .join(mine, mine.listing_id == Listing.id)
        .join(
            theirs,
            sa.and_(theirs.listing_id == mine.listing_id, theirs.session_on == mine.session_on),
        )
        .where(
            mine.member_id == member.id,
            theirs.member_id == other_id,
            mine.session_on >= introduced_on,
            Listing.kind != ListingKind.SUPPORT_GROUP,
        )
        .order_by(mine.session_on.desc())
        .limit(1)
    )


def _listing_message(uow: UnitOfWork, member: Member, due: Due, now: datetime) -> Message:
    listing = uow.listings.get(due.listing_id)
    went = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(SessionAttendance)
        .where(SessionAttendance.member_id == member.id, SessionAttendance.listing_id == listing.id)
    )
    starts = next_session(listing.weekly_slots, listing.sessions, listing.timezone, now)
    title = listing.title
    if starts is None:  # no next session on the timetable: no date to name
        step = _without_next_session(title, bool(went), listing.direction, due.step)
    else:
        step = _with_next_session(
            title, bool(went), listing.direction, due.step, _day(starts, member.timezone)
        )
    return Message(f"Keep in touch: {title}", step, step)


def _with_next_session(title: str, went: bool, direction: Direction, step: int, on: str) -> str:
    if went and direction is Direction.GIVE:
        return f"Volunteer once more: {title} meets again on {on}."
    if went and step == 1:
        return f"Thank the host of {title}, and try the next session on {on}."
    if went:
        return f"{title} meets again on {on}: going back is how faces become friends."
    return (
        f"{title} meets again on {on}. If it still appeals, the next session is a gentle way "
        "in; if not, that is fine."
    )


def _without_next_session(title: str, went: bool, direction: Direction, step: int) -> str:
    if went and direction is Direction.GIVE:
        return f"Volunteer once more with {title}: ask the host when they next need a hand."
    if went and step == 1:
        return f"Thank the host of {title}, and ask when it meets next."
    if went:
        return f"Ask when {title} meets next: going back is how faces become friends."
    return f"If {title} still appeals, ask the host when it meets next; if not, that is fine."


def _day(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%A} {local.day} {local:%B}"


# ---------------------------------------------------------------- the member's side


@dataclass(frozen=True)
class Settings:
    enabled: bool
    snoozed_until: datetime | None


@dataclass(frozen=True)
class Sent:
    """A follow-up as its member sees it: what it was about, by name."""

    id: int
    about: str  # introduction | listing
    name: str  # the peer's display name, or the listing's title
    step: int
    due_on: date
    delivered_by: str
    reply: str | None
    replied_at: datetime | None


@dataclass(frozen=True)
class MyFollowUps:
    settings: Settings
    follow_ups: list[Sent]


def my_follow_ups(uow: UnitOfWork, caller: Principal) -> MyFollowUps:
    """The member's follow-ups, newest first, and their settings."""
    with uow:
        member = members.own_member(uow, caller)
        rows = uow.session.scalars(
            sa.select(FollowUp)
            .where(FollowUp.member_id == member.id)
            .order_by(FollowUp.created_at.desc(), FollowUp.id.desc())
        ).all()
        return MyFollowUps(_settings(member), [_as_sent(uow, member.id, row) for row in rows])


def _as_sent(uow: UnitOfWork, member_id: int, row: FollowUp) -> Sent:
    if row.introduction_id is not None:
        introduction = uow.session.get(Introduction, row.introduction_id)
        peer = uow.members.get(_other_member(introduction, member_id))
        about, name = "introduction", peer.display_name
    else:
        about, name = "listing", uow.listings.get(row.listing_id).title
    return Sent(
        row.id, about, name, row.step, row.due_on, row.delivered_by, row.reply, row.replied_at
    )


def change_settings(
    uow: UnitOfWork, caller: Principal, enabled: bool | None, snooze_days: int | None
) -> Settings:
    """Turn follow-ups on or off; snooze them for some days (0 ends a snooze)."""
    with uow:
        member = members.own_member(uow, caller)
        if enabled is not None:
            member.follow_ups_enabled = enabled
        if snooze_days is not None:
            member.follow_ups_snoozed_until = (
                utcnow() + timedelta(days=snooze_days) if snooze_days else None
            )
        members.mark_active(uow, member.id)
        uow.commit()
        return _settings(member)


def reply(uow: UnitOfWork, caller: Principal, follow_up_id: int, answer: str) -> Sent:
    """ "kept_in_touch" (counted as a second contact) or "not_for_me" (no more follow-ups on
    that introduction or listing). A later reply replaces an earlier one."""
    if answer not in REPLIES:
        raise ValueError(f"reply must be one of {REPLIES}")
    with uow:
        member = members.own_member(uow, caller)
        follow_up = uow.session.get(FollowUp, follow_up_id)
        if follow_up is None or follow_up.member_id != member.id:
            raise NotFound("no such follow-up")
        follow_up.reply = answer
        follow_up.replied_at = utcnow()
        members.mark_active(uow, member.id)
        uow.commit()
        return _as_sent(uow, member.id, follow_up)


def _settings(member: Member) -> Settings:
    snoozed = member.follow_ups_snoozed_until
    return Settings(member.follow_ups_enabled, snoozed if snoozed and snoozed > utcnow() else None)
