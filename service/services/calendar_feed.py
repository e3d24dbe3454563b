"""A private calendar feed: the groups a member said yes to, in any calendar app.

Calendar apps cannot sign in, so the feed's URL is its own credential: a signature (itsdangerous,
keyed by SECRET_KEY) of the member's id and their `calendar_feed_key`. Nothing is stored per link;
bumping the key makes every earlier URL stop working.

The feed says only what the listing says publicly (title, area, organization): a calendar shared
with family or synced to a work account should not tell anyone about the member.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from icalendar import Calendar, Event
from itsdangerous import BadSignature, URLSafeSerializer

from service.adapters.orm import Listing, Member
from service.domain.credentials import Principal
from service.domain.errors import NotFound
from service.domain.rhythm import WEEKDAYS
from service.services.members import own_member
from service.services.unit_of_work import UnitOfWork

SALT = "kindred-calendar-feed"
PRODUCT_ID = "-//kindred//private calendar feed//EN"
# Weekly events recur with no end; this many years of daylight-saving rules go with them (calendar
# apps that know the zone by name, most of them, use their own rules anyway).
TIMEZONE_RULES_FOR = timedelta(days=20 * 366)
NO_SUCH_FEED = "This calendar link is not valid any more. Make a new one on your calendar page."


# ---------------------------------------------------------------- the link


def feed_token(secret_key: str, member: Member) -> str:
    """Signs the member's id, feed key and moment of joining: ids can come back (SQLite gives an
    erased member's id to the next person who joins), a moment of joining does not."""
    claims = [member.id, member.calendar_feed_key, joined_stamp(member)]
    return URLSafeSerializer(secret_key, salt=SALT).dumps(claims)


def joined_stamp(member: Member) -> int:
    return int(member.created_at.timestamp() * 1_000_000)


def my_feed_token(uow: UnitOfWork, caller: Principal, secret_key: str) -> str:
    with uow:
        return feed_token(secret_key, own_member(uow, caller))


def new_feed_link(uow: UnitOfWork, caller: Principal, secret_key: str) -> str:
    """A new token; every earlier one stops working (a link shared by mistake is closed). Not a
    profile change: updated_at, which makes the matcher refit, is kept."""
    with uow:
        member = own_member(uow, caller)
        uow.session.execute(
            sa.update(Member)
            .where(Member.id == member.id)
            .values(calendar_feed_key=Member.calendar_feed_key + 1, updated_at=Member.updated_at)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
        uow.session.refresh(member)
        return feed_token(secret_key, member)


def _claims(secret_key: str, token: str) -> tuple[int, int, int]:
    try:
        member_id, feed_key, joined = URLSafeSerializer(secret_key, salt=SALT).loads(token)
    except (BadSignature, TypeError, ValueError):
        raise NotFound(NO_SUCH_FEED) from None
    if not all(type(claim) is int for claim in (member_id, feed_key, joined)):
        raise NotFound(NO_SUCH_FEED)
    return member_id, feed_key, joined


# ---------------------------------------------------------------- what goes in it


def calendar_for_token(uow: UnitOfWork, secret_key: str, token: str) -> bytes:
    """The feed behind a link, or NotFound for a forged, old or erased member's link."""
    member_id, feed_key, joined = _claims(secret_key, token)
    with uow:
        member = uow.members.get(member_id)
        if member is None or member.calendar_feed_key != feed_key or joined_stamp(member) != joined:
            raise NotFound(NO_SUCH_FEED)
        return build_calendar(_said_yes_to(uow, member_id)).to_ical()


def my_calendar_listings(uow: UnitOfWork, caller: Principal) -> list[Listing]:
    """What the feed holds, for the member's own page."""
    with uow:
        return _said_yes_to(uow, own_member(uow, caller).id)


def _said_yes_to(uow: UnitOfWork, member_id: int) -> list[Listing]:
    return uow.listings.said_yes_by(member_id)


def build_calendar(listings) -> Calendar:
    """One event per dated session and one weekly recurring event per weekly slot. UIDs depend
    only on the listing and the slot, so a calendar app updates events instead of doubling them."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "kindred: my groups")
    events = [
        *(_dated_event(listing, session) for listing in listings for session in listing.sessions),
        *(_weekly_event(listing, slot) for listing in listings for slot in listing.weekly_slots),
    ]
    for event in events:
        calendar.add_component(event)
    if events:
        # Zone rules from the first event on: icalendar's default spans 1970-2038.
        first = min(event.start for event in events).date()
        calendar.add_missing_timezones(first_date=first, last_date=first + TIMEZONE_RULES_FOR)
    return calendar


def _dated_event(listing, session: dict) -> Event:
    starts = datetime.fromisoformat(session["starts_at"]).astimezone(UTC)
    event = _event(listing, starts, session["minutes"])
    event.add("uid", f"listing-{listing.id}-session-{starts:%Y%m%dT%H%M%SZ}@kindred")
    return event


def _weekly_event(listing, slot: dict) -> Event:
    starts = datetime.combine(
        _first_weekday(listing, slot["day"]),
        time.fromisoformat(slot["start"]),
        tzinfo=ZoneInfo(listing.timezone),
    )
    event = _event(listing, starts, slot["minutes"])
    clock = slot["start"].replace(":", "")
    event.add("uid", f"listing-{listing.id}-weekly-{slot['day']}-{clock}@kindred")
    event.add("rrule", {"freq": "weekly", "byday": slot["day"][:2].upper()})
    return event


def _first_weekday(listing, day: str) -> date:
    """The first such weekday from the listing's creation: a fixed start, so the event is the
    same on every fetch."""
    created = listing.created_at.astimezone(ZoneInfo(listing.timezone)).date()
    return created + timedelta(days=(WEEKDAYS.index(day) - created.weekday()) % 7)


def _event(listing, starts: datetime, minutes: int) -> Event:
    event = Event()
    event.add("summary", listing.title)
    event.add("dtstart", starts)
    event.add("dtend", starts + timedelta(minutes=minutes))
    event.add("dtstamp", listing.updated_at.astimezone(UTC))
    place = "Online" if listing.is_virtual and not listing.area else listing.area
    if place:
        event.add("location", place)
    event.add("description", f"Run by {listing.organization_name}.")
    return event
