"""The calendar feed's iCalendar: events per session and per weekly slot, stable UIDs, and only
what the listing says publicly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from icalendar import Calendar

from service.services.calendar_feed import build_calendar, feed_token


def listing(**changes) -> SimpleNamespace:
    fields = {
        "id": 7,
        "title": "Gentle garden club",
        "area": "Easton",
        "is_virtual": False,
        "organization_name": "Garden Friends",
        "timezone": "Europe/London",
        # A Wednesday: the first Saturday slot is three days later.
        "created_at": datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
        "updated_at": datetime(2026, 7, 2, 8, 0, tzinfo=UTC),
        "weekly_slots": [{"day": "sat", "start": "10:00", "minutes": 90}],
        "sessions": [{"starts_at": "2026-12-05T10:00:00+00:00", "minutes": 120}],
    }
    return SimpleNamespace(**{**fields, **changes})


def events_of(listings) -> list:
    return Calendar.from_ical(build_calendar(listings).to_ical()).walk("VEVENT")


def test_a_weekly_slot_recurs_in_the_listings_time_zone():
    (weekly,) = [event for event in events_of([listing()]) if "RRULE" in event]
    starts = weekly.decoded("DTSTART")
    assert (starts.isoformat(), str(starts.tzinfo)) == (
        "2026-07-04T10:00:00+01:00",
        "Europe/London",
    )
    assert weekly.decoded("DTEND") - starts == timedelta(minutes=90)
    assert weekly["RRULE"]["FREQ"] == ["WEEKLY"] and weekly["RRULE"]["BYDAY"] == ["SA"]
    assert b"BEGIN:VTIMEZONE" in build_calendar([listing()]).to_ical()


def test_a_dated_session_is_one_event_in_utc():
    (dated,) = [event for event in events_of([listing()]) if "RRULE" not in event]
    assert dated.decoded("DTSTART") == datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    assert dated.decoded("DTEND") == datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_uids_are_the_same_on_every_fetch_and_differ_per_slot():
    two_slots = listing(
        weekly_slots=[
            {"day": "sat", "start": "10:00", "minutes": 90},
            {"day": "wed", "start": "18:30", "minutes": 60},
        ]
    )
    first = [str(event["UID"]) for event in events_of([two_slots])]
    assert first == [str(event["UID"]) for event in events_of([two_slots])]
    assert len(set(first)) == 3


def test_events_say_only_what_the_listing_says_publicly():
    (event, *_) = events_of([listing()])
    assert str(event["SUMMARY"]) == "Gentle garden club"
    assert str(event["LOCATION"]) == "Easton"
    assert str(event["DESCRIPTION"]) == "Run by Garden Friends."
    online = events_of([listing(is_virtual=True, area=None)])
    assert {str(e["LOCATION"]) for e in online} == {"Online"}


def test_no_listings_make_an_empty_but_valid_calendar():
    calendar = Calendar.from_ical(build_calendar([]).to_ical())
    assert calendar.walk("VEVENT") == [] and str(calendar["VERSION"]) == "2.0"


def member(member_id=3, key=0, joined=datetime(2026, 11, 1, 9, 30, tzinfo=UTC)):
    return SimpleNamespace(id=member_id, calendar_feed_key=key, created_at=joined)


def test_the_token_depends_on_the_member_the_key_the_joining_and_the_secret():
    token = feed_token("secret", member())
    assert token == feed_token("secret", member())
    others = {
        feed_token("secret", member(key=1)),
        feed_token("secret", member(member_id=4)),
        # The same id given to someone who joined later (SQLite reuses an erased member's id).
        feed_token("secret", member(joined=datetime(2026, 11, 2, tzinfo=UTC))),
        feed_token("other secret", member()),
    }
    assert token not in others
