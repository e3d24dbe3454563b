"""A member's weekly rhythm, in their own time: the digest day, quiet hours, the next session.

Everything here is a pure function of an instant and a timezone name, so the scheduler's jobs
can be tested at any hour of any week (daylight-saving changes included) without waiting for it.
Instants in and out are aware UTC datetimes; wall-clock times ("09:30") are local.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from service.domain.events import cycle_of

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The weekly re-match and digest start at this local time on the member's digest day; if it falls
# in their quiet hours, the email waits for the quiet hours to end (the inbox gets it at once).
DIGEST_LOCAL_TIME = time(9, 0)


def local_week(moment: datetime, timezone: str) -> str:
    """The member's ISO week at this instant, e.g. "2026-W48": one weekly round in each."""
    return cycle_of(moment.astimezone(ZoneInfo(timezone)))


def local_month(moment: datetime, timezone: str) -> str:
    """The member's calendar month at this instant, e.g. "2026-11": one check-in in each."""
    return f"{moment.astimezone(ZoneInfo(timezone)):%Y-%m}"


def digest_moment(moment: datetime, timezone: str, digest_day: str) -> datetime:
    """When this local week's digest is due: the digest day of the week `moment` falls in."""
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=WEEKDAYS.index(digest_day))
    return datetime.combine(day, DIGEST_LOCAL_TIME, tzinfo=zone).astimezone(UTC)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(moment: datetime, timezone: str, start: str, end: str) -> bool:
    """Quiet hours may wrap midnight (21:00-08:00). Equal start and end means none."""
    now, begins, ends = moment.astimezone(ZoneInfo(timezone)).time(), _clock(start), _clock(end)
    if begins == ends:
        return False
    if begins < ends:
        return begins <= now < ends
    return now >= begins or now < ends


def in_daytime(moment: datetime, timezone: str, quiet_start: str, quiet_end: str) -> bool:
    """Time for an unasked-for message (a follow-up, a check-in offer): after the digest's
    local hour and outside quiet hours."""
    local = moment.astimezone(ZoneInfo(timezone))
    quiet = in_quiet_hours(moment, timezone, quiet_start, quiet_end)
    return local.time() >= DIGEST_LOCAL_TIME and not quiet


def quiet_hours_over(moment: datetime, timezone: str, start: str, end: str) -> datetime:
    """The first instant at or after `moment` outside the member's quiet hours."""
    if not in_quiet_hours(moment, timezone, start, end):
        return moment
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    ends = _clock(end)
    day = local.date() if local.time() < ends else local.date() + timedelta(days=1)
    # Built as a wall-clock time and converted, so a quiet-hours end that a daylight-saving jump
    # skips (02:30 on the spring-forward night) lands just after the jump, not before it.
    return datetime.combine(day, ends, tzinfo=zone).astimezone(UTC)


def next_session(
    weekly_slots: list[dict], sessions: list[dict], timezone: str, after: datetime
) -> datetime | None:
    """The start of the first session strictly after `after`: a dated session, or the next
    occurrence of a weekly slot ({"day": "sat", "start": "10:00"}) in the listing's timezone."""
    starts = [
        datetime.fromisoformat(s["starts_at"]).astimezone(UTC)
        for s in sessions
        if datetime.fromisoformat(s["starts_at"]) > after
    ]
    zone = ZoneInfo(timezone)
    local_today = after.astimezone(zone).date()
    for slot in weekly_slots:
        ahead = (WEEKDAYS.index(slot["day"]) - local_today.weekday()) % 7
        for weeks in (0, 1):  # today's slot may already have begun: then next week's
            day = local_today + timedelta(days=ahead + 7 * weeks)
            start = datetime.combine(day, _clock(slot["start"]), tzinfo=zone).astimezone(UTC)
            if start > after:
                starts.append(start)
                break
    return min(starts, default=None)
