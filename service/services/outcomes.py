"""Outcomes: is kindred helping people go back and feel less alone? (issue 8, part 5)

Four figures per calendar month (UTC), for coordinators only, each one SQL aggregate that runs on
PostgreSQL and SQLite alike. The minimum group size is enforced by the database itself
(`HAVING count >= MIN_GROUP_SIZE`): a group of fewer than ten people (or introductions) never
leaves the query, so no page, API answer or file can show it. What is withheld is said only as a
number of months (or listing-months), never with its figures. Definitions: docs/outcomes.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from service.adapters.orm import (
    ConnectionCheckIn,
    FollowUp,
    Introduction,
    Listing,
    Member,
    SessionAttendance,
    utcnow,
)
from service.domain.credentials import Principal, Role
from service.domain.vocabulary import IntroductionStatus
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork

MIN_GROUP_SIZE = 10
MAX_MONTHS = 24
DEFAULT_MONTHS = 6
# A newcomer "came back" when they went to the same listing again within this many days.
RETURN_WITHIN_DAYS = 42
# UCLA-3 scores run 3..9; 6 or more is the usual cut-off for "often lonely" (Steptoe et al. 2013).
LONELY_FROM_SCORE = 6
TOP_LISTINGS = 5
START_SLOWLY, OTHERS = "start_slowly", "others"
# `kindred report outcomes` is run by whoever operates the server: their database access already
# gives them more than these aggregates, so the command reads them as a coordinator would.
OPERATOR = Principal(Role.COORDINATOR, 0)


# --------------------------------------------------------------- portable date SQL (SQLite, PG)


class year_month(FunctionElement):  # named like the SQL functions it compiles to
    """The month of a DATE, as text: 2026-11."""

    type = sa.String()
    inherit_cache = True


@compiles(year_month)
def _year_month_pg(element, compiler, **kw):
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


@compiles(year_month, "sqlite")
def _year_month_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


class utc_day(FunctionElement):
    """The UTC calendar day of a timestamp, as a DATE."""

    type = sa.Date()
    inherit_cache = True


@compiles(utc_day)
def _utc_day_pg(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element, compiler, **kw):
    # kindred stores SQLite timestamps in UTC (UTCDateTime), as text that date() reads.
    return f"date({compiler.process(element.clauses, **kw)})"


class days_between(FunctionElement):
    """Whole days from the first DATE to the second (later minus earlier)."""

    type = sa.Integer()
    inherit_cache = True


@compiles(days_between)
def _days_between_pg(element, compiler, **kw):
    earlier, later = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    earlier, later = list(element.clauses)
    return (
        f"CAST(julianday({compiler.process(later, **kw)}) - "
        f"julianday({compiler.process(earlier, **kw)}) AS INTEGER)"
    )


# ------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Window:
    months: list[str]  # "2026-06" ... this month, oldest first
    start: date  # the first day of the first month

    @classmethod
    def last(cls, months: int, now: datetime) -> Window:
        today = now.astimezone(UTC).date()
        labels = []
        year, month = today.year, today.month
        for _ in range(months):
            labels.append(f"{year:04d}-{month:02d}")
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        labels.reverse()
        first_year, first_month = (int(part) for part in labels[0].split("-"))
        return cls(labels, date(first_year, first_month, 1))


@dataclass(frozen=True)
class Figure:
    """One figure's rows (only groups of MIN_GROUP_SIZE or more) and how many were withheld."""

    rows: list[dict]
    withheld: int


@dataclass(frozen=True)
class Outcomes:
    months: list[str]
    min_group_size: int
    second_visits: Figure
    introductions: Figure
    attendance: Figure
    top_listings: list[dict]
    checkins: dict[str, Figure]  # START_SLOWLY / OTHERS
    generated_at: datetime = field(default_factory=utcnow)

    def as_json(self) -> dict:
        document = asdict(self)
        document["generated_at"] = self.generated_at.isoformat()
        return document

    def series(self, figure: str, value: str, cohort: str | None = None) -> list[float | None]:
        """One value per month of the window, None where the month is withheld."""
        rows = (self.checkins[cohort] if cohort else getattr(self, figure)).rows
        by_month = {row["month"]: row[value] for row in rows}
        return [by_month.get(month) for month in self.months]

    def listing_series(self, listing_id: int) -> list[int | None]:
        by_month = {
            row["month"]: row["attendances"]
            for row in self.attendance.rows
            if row["listing_id"] == listing_id
        }
        return [by_month.get(month) for month in self.months]


def outcomes(
    uow: UnitOfWork, caller: Principal, months: int = DEFAULT_MONTHS, now: datetime | None = None
) -> Outcomes:
    require_role(caller, Role.COORDINATOR)
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be 1..{MAX_MONTHS}")
    window = Window.last(months, now or utcnow())
    with uow:
        session = uow.session
        second_visits = _month_rows(session, _second_visits_query(window))
        introductions = _month_rows(session, _introductions_query(window))
        attendance = [dict(row) for row in session.execute(_attendance_query(window)).mappings()]
        small_listing_months = session.scalar(_small_listing_months_query(window))
        checkins = [dict(row) for row in session.execute(_checkins_query(window)).mappings()]
    by_cohort = {
        cohort: [_checkin_row(row) for row in checkins if row["cohort"] == cohort]
        for cohort in (START_SLOWLY, OTHERS)
    }
    return Outcomes(
        months=window.months,
        min_group_size=MIN_GROUP_SIZE,
        second_visits=_figure(second_visits, window, "newcomers", "came_back"),
        introductions=_figure(introductions, window, "introductions", "second_contact"),
        attendance=Figure(attendance, small_listing_months or 0),
        top_listings=_top_listings(attendance),
        checkins={
            cohort: Figure(rows, len(window.months) - len(rows))
            for cohort, rows in by_cohort.items()
        },
    )


def _month_rows(session, query) -> list[dict]:
    return [dict(row) for row in session.execute(query).mappings()]


def _figure(rows: list[dict], window: Window, total: str, part: str) -> Figure:
    """Rates beside their counts. A month without a row had fewer than ten (or none): withheld,
    and not told apart from an empty month, so not even "some but few" leaks."""
    shown = [{**row, "rate": round(row[part] / row[total], 3)} for row in rows]
    return Figure(shown, len(window.months) - len(shown))


def _checkin_row(row: dict) -> dict:
    return {
        "month": row["month"],
        "members": row["members"],
        "mean_score": round(float(row["mean_score"]), 2),
        "share_lonely": round(float(row["share_lonely"]), 3),
    }


def _top_listings(rows: list[dict]) -> list[dict]:
    totals: dict[int, dict] = {}
    for row in rows:
        entry = totals.setdefault(
            row["listing_id"], {"listing_id": row["listing_id"], "title": row["title"], "total": 0}
        )
        entry["total"] += row["attendances"]
    ranked = sorted(totals.values(), key=lambda entry: (-entry["total"], entry["listing_id"]))
    return ranked[:TOP_LISTINGS]


def _at_least_minimum(counted) -> sa.ColumnElement[bool]:
    return counted >= MIN_GROUP_SIZE


def _total(expression):
    return sa.cast(sa.func.coalesce(sa.func.sum(expression), 0), sa.Integer)


# ------------------------------------------------------------------------------------ queries


def _second_visits_query(window: Window) -> sa.Select:
    """Newcomers by the month of their first session anywhere, and how many went back to the
    listing of that first session within RETURN_WITHIN_DAYS days."""
    first_day = (
        sa.select(
            SessionAttendance.member_id, sa.func.min(SessionAttendance.session_on).label("day")
        )
        .group_by(SessionAttendance.member_id)
        .subquery("first_day")
    )
    first = SessionAttendance.__table__.alias("first_visit")
    again = SessionAttendance.__table__.alias("again")
    went_back = (
        sa.select(again.c.id)
        .where(
            again.c.member_id == first.c.member_id,
            again.c.listing_id == first.c.listing_id,
            again.c.session_on > first.c.session_on,
            days_between(first.c.session_on, again.c.session_on) <= RETURN_WITHIN_DAYS,
        )
        .exists()
    )
    # One row per newcomer (a first day at two listings counts once, as "came back" if either).
    newcomers = (
        sa.select(
            first.c.member_id,
            year_month(first.c.session_on).label("month"),
            sa.func.max(sa.case((went_back, 1), else_=0)).label("came_back"),
        )
        .join(
            first_day,
            sa.and_(
                first_day.c.member_id == first.c.member_id, first_day.c.day == first.c.session_on
            ),
        )
        .where(first.c.session_on >= window.start)
        .group_by(first.c.member_id, first.c.session_on)
        .subquery("newcomers")
    )
    members = sa.func.count(newcomers.c.member_id)
    return (
        sa.select(
            newcomers.c.month,
            members.label("newcomers"),
            _total(newcomers.c.came_back).label("came_back"),
        )
        .group_by(newcomers.c.month)
        .having(_at_least_minimum(members))
        .order_by(newcomers.c.month)
    )


def _introductions_query(window: Window) -> sa.Select:
    """Introductions by the month they were made, and how many were followed by a second
    contact: both went to the same session (listing and day) on or after the day of the
    introduction, or either said "kept in touch" to its follow-up."""
    low = SessionAttendance.__table__.alias("low_went")
    high = SessionAttendance.__table__.alias("high_went")
    introduced_on = utc_day(Introduction.introduced_at)
    met_at_a_session = (
        sa.select(low.c.id)
        .join(
            high,
            sa.and_(high.c.listing_id == low.c.listing_id, high.c.session_on == low.c.session_on),
        )
        .where(
            low.c.member_id == Introduction.member_low_id,
            high.c.member_id == Introduction.member_high_id,
            low.c.session_on >= introduced_on,
        )
        .exists()
    )
    kept_in_touch = (
        sa.select(FollowUp.id)
        .where(FollowUp.introduction_id == Introduction.id, FollowUp.reply == "kept_in_touch")
        .exists()
    )
    month = year_month(introduced_on)
    made = sa.func.count(Introduction.id)
    return (
        sa.select(
            month.label("month"),
            made.label("introductions"),
            _total(sa.case((sa.or_(met_at_a_session, kept_in_touch), 1), else_=0)).label(
                "second_contact"
            ),
        )
        .where(
            Introduction.status == IntroductionStatus.INTRODUCED,
            Introduction.introduced_at >= datetime.combine(window.start, datetime.min.time(), UTC),
        )
        .group_by(month)
        .having(_at_least_minimum(made))
        .order_by(month)
    )


def _listing_months(window: Window):
    month = year_month(SessionAttendance.session_on)
    attendees = sa.func.count(sa.distinct(SessionAttendance.member_id))
    base = (
        sa.select(
            SessionAttendance.listing_id,
            month.label("month"),
            attendees.label("attendees"),
            sa.func.count(SessionAttendance.id).label("attendances"),
        )
        .where(SessionAttendance.session_on >= window.start)
        .group_by(SessionAttendance.listing_id, month)
    )
    return base, attendees


def _attendance_query(window: Window) -> sa.Select:
    """Sessions attended per listing and month, for listing-months with ten or more people."""
    base, attendees = _listing_months(window)
    shown = base.having(_at_least_minimum(attendees)).subquery("shown")
    return (
        sa.select(
            shown.c.listing_id,
            Listing.title,
            shown.c.month,
            shown.c.attendees,
            shown.c.attendances,
        )
        .join(Listing, Listing.id == shown.c.listing_id)
        .order_by(shown.c.month, shown.c.listing_id)
    )


def _small_listing_months_query(window: Window) -> sa.Select:
    """How many listing-months had someone but fewer than ten: a count, never their figures."""
    base, attendees = _listing_months(window)
    small = base.having(attendees < MIN_GROUP_SIZE).subquery("small")
    return sa.select(sa.func.count()).select_from(small)


def _checkins_query(window: Window) -> sa.Select:
    """Mean UCLA-3 score and the share scoring LONELY_FROM_SCORE or more, per month, for members
    who chose "start slowly" and for the others; only members who still hold the check-in
    consent, and only cohort-months of ten or more of them."""
    cohort = sa.case((Member.start_slowly.is_(True), START_SLOWLY), else_=OTHERS)
    answered = sa.func.count(sa.distinct(ConnectionCheckIn.member_id))
    lonely = sa.case((ConnectionCheckIn.score >= LONELY_FROM_SCORE, 1.0), else_=0.0)
    return (
        sa.select(
            ConnectionCheckIn.month,
            cohort.label("cohort"),
            answered.label("members"),
            sa.func.avg(sa.cast(ConnectionCheckIn.score, sa.Float)).label("mean_score"),
            sa.func.avg(lonely).label("share_lonely"),
        )
        .join(Member, Member.id == ConnectionCheckIn.member_id)
        .where(
            Member.consent_connection_checkin.is_(True),
            ConnectionCheckIn.month >= window.months[0],
            ConnectionCheckIn.month <= window.months[-1],
        )
        # Grouped by the column, not the CASE: PostgreSQL would not match the CASE's parameters.
        .group_by(ConnectionCheckIn.month, Member.start_slowly)
        .having(_at_least_minimum(answered))
        .order_by(ConnectionCheckIn.month, Member.start_slowly)
    )
