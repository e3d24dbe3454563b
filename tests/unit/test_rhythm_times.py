"""The weekly rhythm's clock: digest day, quiet hours and next sessions, in local time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from service.domain.rhythm import (
    digest_moment,
    in_daytime,
    in_quiet_hours,
    local_month,
    local_week,
    next_session,
    quiet_hours_over,
)

LONDON = "Europe/London"
ZONES = ["UTC", LONDON, "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]
CLOCK = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 30]))
INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_the_digest_is_due_on_the_members_day_at_nine_local_time():
    # Thursday 26 November 2026, in London (GMT): Sunday's digest is at 09:00 GMT that week.
    assert digest_moment(at("2026-11-26T12:00:00+00:00"), LONDON, "sun") == at(
        "2026-11-29T09:00:00+00:00"
    )
    # Monday's digest that week has passed.
    assert digest_moment(at("2026-11-26T12:00:00+00:00"), LONDON, "mon") == at(
        "2026-11-23T09:00:00+00:00"
    )


def test_the_local_week_is_the_members_not_the_servers():
    # Sunday 23:30 in New York is already Monday in UTC, a new ISO week there.
    late_sunday = at("2026-11-29T23:30:00-05:00")
    assert local_week(late_sunday, "UTC") == "2026-W49"
    assert local_week(late_sunday, "America/New_York") == "2026-W48"


def test_the_digest_keeps_its_local_time_across_a_clock_change():
    # The clocks go back in London on Sunday 25 October 2026: 09:00 is then GMT, not BST.
    assert digest_moment(at("2026-10-24T12:00:00+00:00"), LONDON, "sun") == at(
        "2026-10-25T09:00:00+00:00"
    )
    assert digest_moment(at("2026-10-24T12:00:00+00:00"), LONDON, "sat") == at(
        "2026-10-24T08:00:00+00:00"
    )


def test_quiet_hours_may_wrap_midnight_and_may_be_none():
    evening = at("2026-11-26T22:00:00+00:00")
    assert in_quiet_hours(evening, LONDON, "21:00", "08:00")
    assert not in_quiet_hours(at("2026-11-26T12:00:00+00:00"), LONDON, "21:00", "08:00")
    assert in_quiet_hours(at("2026-11-26T13:00:00+00:00"), LONDON, "12:30", "14:00")
    assert not in_quiet_hours(evening, LONDON, "00:00", "00:00")


def test_unasked_for_messages_wait_for_nine_local_time_and_the_end_of_quiet_hours():
    # 08:30 in New York is 13:30 UTC; 09:00 there is 14:00 UTC.
    assert not in_daytime(at("2026-11-26T13:30:00+00:00"), "America/New_York", "00:00", "00:00")
    assert in_daytime(at("2026-11-26T14:00:00+00:00"), "America/New_York", "00:00", "00:00")
    assert not in_daytime(at("2026-11-26T14:00:00+00:00"), "America/New_York", "08:00", "10:00")
    assert in_daytime(at("2026-11-26T15:00:00+00:00"), "America/New_York", "08:00", "10:00")


def test_an_email_in_quiet_hours_waits_for_the_morning_in_the_members_timezone():
    # 22:00 in London: the quiet hours end at 08:00 the next morning.
    assert quiet_hours_over(at("2026-11-26T22:00:00+00:00"), LONDON, "21:00", "08:00") == at(
        "2026-11-27T08:00:00+00:00"
    )
    # 06:00 in New York is 11:00 UTC: still quiet there, until 08:00 New York time.
    assert quiet_hours_over(
        at("2026-11-26T11:00:00+00:00"), "America/New_York", "21:00", "08:00"
    ) == at("2026-11-26T08:00:00-05:00")
    outside = at("2026-11-26T12:00:00+00:00")
    assert quiet_hours_over(outside, LONDON, "21:00", "08:00") == outside


@given(INSTANTS, st.sampled_from(ZONES), CLOCK, CLOCK)
def test_the_end_of_quiet_hours_is_soon_and_not_quiet(moment, zone, start, end):
    over = quiet_hours_over(moment, zone, start, end)
    assert moment <= over <= moment + timedelta(hours=25)  # 25: a day with a clock change
    assert not in_quiet_hours(over, zone, start, end)


def test_the_next_session_is_the_nearest_weekly_slot_or_dated_session():
    slots = [{"day": "sat", "start": "10:00", "minutes": 90}]
    thursday = at("2026-11-26T12:00:00+00:00")
    assert next_session(slots, [], LONDON, thursday) == at("2026-11-28T10:00:00+00:00")
    # The slot is in the listing's timezone: 10:00 in New York is 15:00 UTC.
    assert next_session(slots, [], "America/New_York", thursday) == at("2026-11-28T10:00:00-05:00")
    dated = [{"starts_at": "2026-11-27T18:00:00+00:00", "minutes": 60}]
    assert next_session(slots, dated, LONDON, thursday) == at("2026-11-27T18:00:00+00:00")
    assert next_session([], [], LONDON, thursday) is None


def test_a_slot_that_has_begun_today_is_next_weeks():
    slots = [{"day": "thu", "start": "10:00", "minutes": 90}]
    thursday_noon = at("2026-11-26T12:00:00+00:00")
    assert next_session(slots, [], LONDON, thursday_noon) == at("2026-12-03T10:00:00+00:00")
    past = [{"starts_at": "2026-11-20T10:00:00+00:00", "minutes": 60}]
    assert next_session([], past, LONDON, thursday_noon) is None


@given(INSTANTS, st.sampled_from(ZONES), st.sampled_from(["mon", "wed", "sun"]), CLOCK)
def test_a_weekly_slot_comes_round_within_a_week(after, zone, day, start):
    starts = next_session([{"day": day, "start": start, "minutes": 60}], [], zone, after)
    assert after < starts <= after + timedelta(days=7, hours=1)
    local = starts.astimezone(ZoneInfo(zone))
    assert local.strftime("%a").lower()[:3] == day


def test_the_local_month_is_the_members_not_the_servers():
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert local_month(late, "UTC") == "2026-11"
    assert local_month(late, "Pacific/Auckland") == "2026-12"
    assert local_month(datetime(2027, 1, 1, 3, 0, tzinfo=UTC), "America/New_York") == "2026-12"
