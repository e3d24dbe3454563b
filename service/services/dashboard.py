"""What the coordinator dashboard shows: every figure is one SQL aggregate.

Nothing here loops over members or listings in Python: counts, weekly series, gaps and rates are
computed by the database with the indexes added for them (migration 0007), so the overview stays
fast at 100,000 members (bench/dashboard_overview.py). Python only loops over small, bounded
things: weeks, tags, areas, organizations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from service.adapters.orm import (
    Introduction,
    Listing,
    ListingTag,
    Member,
    MemberTag,
    Notification,
    NotificationDelivery,
    Organization,
    Suggestion,
    utcnow,
)
from service.adapters.repositories import haversine_km_sql
from service.domain.credentials import Principal, Role
from service.domain.vocabulary import (
    GroupSize,
    IntroductionStatus,
    ListingStatus,
    Pace,
    SuggestionKind,
    SuggestionStatus,
)
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork

WEEKS_SHOWN = 8
# A member "without a good match" had no group suggestion this good in this long.
GOOD_MATCH_WINDOW = timedelta(days=28)
# Map cells of about 2 km: fine enough to show a neighbourhood, coarse enough to say nothing
# about where one person lives.
CELL_DEGREES = 0.02
KM_PER_DEGREE = 111.0


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the moment's ISO week."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _total(expression) -> sa.Cast:
    """SUM as a whole number, 0 when there is nothing to add (PostgreSQL sums integers as
    NUMERIC, which Python reads as Decimal)."""
    return sa.cast(sa.func.coalesce(sa.func.sum(expression), 0), sa.Integer)


def _count(model, *where) -> sa.ScalarSelect:
    return sa.select(sa.func.count()).select_from(model).where(*where).scalar_subquery()


# ---------------------------------------------------------------------------------- overview


@dataclass(frozen=True)
class Overview:
    figures: dict[str, int | float | None]
    week_labels: list[str]
    weekly: dict[str, list[int]]


def overview(uow: UnitOfWork, caller: Principal, now: datetime | None = None) -> Overview:
    require_role(caller, Role.COORDINATOR)
    now = now or utcnow()
    this_week = week_start(now)
    with uow:
        figures = dict(uow.session.execute(_figures_query(this_week)).one()._mapping)
        figures["without_good_match"] = uow.session.scalar(_without_good_match_query(now))
        weeks = [this_week - timedelta(weeks=n) for n in range(WEEKS_SHOWN - 1, -1, -1)]
        weekly = _weekly_series(uow.session, weeks, now)
    answered = figures["yes_this_week"] + figures["no_this_week"]
    figures["acceptance_rate"] = figures["yes_this_week"] / answered if answered else None
    labels = [f"{week:%d %b}" for week in weeks]
    return Overview(figures=figures, week_labels=labels, weekly=weekly)


def _figures_query(this_week: datetime) -> sa.Select:
    return sa.select(
        _count(Listing, Listing.status == ListingStatus.ACTIVE).label("active_listings"),
        _count(Listing, Listing.status == ListingStatus.PENDING_REVIEW).label("pending_review"),
        _count(Member).label("members"),
        _count(Member, Member.consent_matching.is_(True)).label("members_matching"),
        _count(Member, Member.created_at >= this_week).label("new_members_this_week"),
        _count(Suggestion, Suggestion.created_at >= this_week).label("suggestions_this_week"),
        _count(Suggestion, Suggestion.answered_at >= this_week, Suggestion.status == "yes").label(
            "yes_this_week"
        ),
        _count(Suggestion, Suggestion.answered_at >= this_week, Suggestion.status == "no").label(
            "no_this_week"
        ),
        _count(Suggestion, Suggestion.status == SuggestionStatus.OPEN).label("open_suggestions"),
        _count(
            Introduction,
            Introduction.introduced_at >= this_week,
            Introduction.status == IntroductionStatus.INTRODUCED,
        ).label("introductions_this_week"),
        _count(Notification, Notification.created_at >= this_week).label("notifications_this_week"),
        _count(
            NotificationDelivery,
            NotificationDelivery.sent_at >= this_week,
            NotificationDelivery.status == "sent",
        ).label("emails_sent_this_week"),
        _count(NotificationDelivery, NotificationDelivery.status == "failed").label(
            "emails_failed"
        ),
    )


def _without_good_match_query(now: datetime) -> sa.Select:
    """Members open to matching with no good group suggestion lately: what to recruit for.

    Read from members.last_good_match_at, which the matching jobs keep: counting it from the
    suggestions themselves took 120 ms at 100,000 members on PostgreSQL, this takes a few."""
    lately = now - GOOD_MATCH_WINDOW
    return (
        sa.select(sa.func.count())
        .select_from(Member)
        .where(
            Member.consent_matching.is_(True),
            sa.or_(Member.last_good_match_at.is_(None), Member.last_good_match_at < lately),
        )
    )


def _weekly_series(session, weeks: list[datetime], now: datetime) -> dict[str, list[int]]:
    """Per week: one SELECT of index range counts, (series x weeks) subqueries."""
    bounds = [*weeks[1:], now + timedelta(seconds=1)]
    series = {
        "suggestions made": (Suggestion, Suggestion.created_at, ()),
        "said yes": (Suggestion, Suggestion.answered_at, (Suggestion.status == "yes",)),
        "introductions": (
            Introduction,
            Introduction.introduced_at,
            (Introduction.status == IntroductionStatus.INTRODUCED,),
        ),
        "new members": (Member, Member.created_at, ()),
    }
    columns = [
        _count(model, column >= start, column < end, *where).label(f"{name}|{n}")
        for name, (model, column, where) in series.items()
        for n, (start, end) in enumerate(zip(weeks, bounds, strict=True))
    ]
    row = session.execute(sa.select(*columns)).one()._mapping
    return {name: [row[f"{name}|{n}"] for n in range(len(weeks))] for name in series}


# ------------------------------------------------------------------------------ review queue


def pending_listings(uow: UnitOfWork, caller: Principal) -> list[Listing]:
    require_role(caller, Role.COORDINATOR)
    with uow:
        return list(
            uow.session.scalars(
                sa.select(Listing)
                .where(Listing.status == ListingStatus.PENDING_REVIEW)
                .order_by(Listing.status_changed_at)
                .limit(200)
            )
        )


# ----------------------------------------------------------------------------- coverage gaps


@dataclass(frozen=True)
class Gap:
    name: str
    members: int  # consenting members asking for it
    listings: int  # active listings offering it

    @property
    def members_per_listing(self) -> float:
        return self.members / max(self.listings, 1)


@dataclass(frozen=True)
class Coverage:
    interests: list[Gap]
    causes: list[Gap]
    areas: list[dict]
    cells: list[dict]
    start_slowly_unserved: int
    start_slowly_total: int


def coverage(uow: UnitOfWork, caller: Principal, top: int = 20) -> Coverage:
    require_role(caller, Role.COORDINATOR)
    with uow:
        session = uow.session
        unserved_by_area = dict(session.execute(_start_slowly_unserved_query()).all())
        return Coverage(
            interests=_tag_gaps(session, "interest", top),
            causes=_tag_gaps(session, "cause", top),
            areas=_area_rows(session, unserved_by_area),
            cells=_cells(session),
            start_slowly_unserved=sum(unserved_by_area.values()),
            start_slowly_total=session.scalar(
                sa.select(sa.func.count()).where(_start_slowly_member())
            ),
        )


def _tag_gaps(session, kind: str, top: int) -> list[Gap]:
    demand = dict(
        session.execute(
            sa.select(MemberTag.tag, sa.func.count())
            .join(Member, Member.id == MemberTag.member_id)
            .where(MemberTag.kind == kind, Member.consent_matching.is_(True))
            .group_by(MemberTag.tag)
        ).all()
    )
    supply = dict(
        session.execute(
            sa.select(ListingTag.tag, sa.func.count())
            .join(Listing, Listing.id == ListingTag.listing_id)
            .where(ListingTag.kind == kind, Listing.status == ListingStatus.ACTIVE)
            .group_by(ListingTag.tag)
        ).all()
    )
    gaps = [Gap(tag, count, supply.get(tag, 0)) for tag, count in demand.items()]
    gaps.sort(key=lambda gap: (-gap.members_per_listing, -gap.members, gap.name))
    return gaps[:top]


def _area_rows(session, unserved_by_area: dict) -> list[dict]:
    members = dict(
        session.execute(
            sa.select(Member.area, sa.func.count())
            .where(Member.consent_matching.is_(True))
            .group_by(Member.area)
        ).all()
    )
    listing_rows = session.execute(
        sa.select(
            Listing.area,
            sa.func.count(),
            _total(sa.case((_low_key_listing(), 1), else_=0)),
        )
        .where(Listing.status == ListingStatus.ACTIVE, Listing.is_virtual.is_(False))
        .group_by(Listing.area)
    ).all()
    listings = {area: (count, low_key or 0) for area, count, low_key in listing_rows}
    names = sorted(set(members) | set(listings), key=lambda area: (area is None, area or ""))
    rows = [
        {
            "area": area or "(no area given)",
            "members": members.get(area, 0),
            "listings": listings.get(area, (0, 0))[0],
            "low_key_listings": listings.get(area, (0, 0))[1],
            "start_slowly_unserved": unserved_by_area.get(area, 0),
        }
        for area in names
    ]
    rows.sort(key=lambda row: -row["members"] / max(row["listings"], 1))
    return rows


def _cells(session) -> list[dict]:
    """Members and in-person listings per ~2 km cell: the picture of where people are asking."""

    def cell(model):
        return (
            sa.func.floor(model.lat / CELL_DEGREES).label("row"),
            sa.func.floor(model.lon / CELL_DEGREES).label("col"),
        )

    member_cells = session.execute(
        sa.select(*cell(Member), sa.func.count())
        .where(Member.consent_matching.is_(True), Member.lat.is_not(None))
        .group_by("row", "col")
    ).all()
    listing_cells = session.execute(
        sa.select(*cell(Listing), sa.func.count())
        .where(
            Listing.status == ListingStatus.ACTIVE,
            Listing.is_virtual.is_(False),
            Listing.lat.is_not(None),
        )
        .group_by("row", "col")
    ).all()
    merged: dict[tuple[int, int], dict] = {}
    for rows, field in ((member_cells, "members"), (listing_cells, "listings")):
        for row, col, count in rows:
            key = (int(row), int(col))
            merged.setdefault(key, {"row": key[0], "col": key[1], "members": 0, "listings": 0})
            merged[key][field] = count
    return sorted(merged.values(), key=lambda c: (-c["row"], c["col"]))


def _low_key_listing():
    return sa.and_(Listing.pace == Pace.LOW_KEY, Listing.group_size == GroupSize.SMALL)


def _start_slowly_member():
    return sa.and_(
        Member.start_slowly.is_(True),
        Member.consent_matching.is_(True),
        Member.attendance != "virtual",
        Member.lat.is_not(None),
    )


def _start_slowly_unserved_query() -> sa.Select:
    """Start-slowly members with no small, low-key, in-person listing within their reach.

    A bounding box (served by the listings' lat/lon index) narrows the candidates before the
    exact great-circle distance."""
    reach_lat = Member.travel_radius_km / KM_PER_DEGREE
    # Longitude degrees shrink with latitude; 0.5 (60°N/S) keeps the box wide enough anywhere
    # people live in numbers, and the exact distance below decides.
    reach_lon = Member.travel_radius_km / (KM_PER_DEGREE * 0.5)
    nearby_low_key = (
        sa.select(Listing.id)
        .where(
            Listing.status == ListingStatus.ACTIVE,
            Listing.is_virtual.is_(False),
            _low_key_listing(),
            Listing.lat.between(Member.lat - reach_lat, Member.lat + reach_lat),
            Listing.lon.between(Member.lon - reach_lon, Member.lon + reach_lon),
            haversine_km_sql(Listing.lat, Listing.lon, Member.lat, Member.lon)
            <= Member.travel_radius_km,
        )
        .correlate(Member)
    )
    return (
        sa.select(Member.area, sa.func.count())
        .where(_start_slowly_member(), ~sa.exists(nearby_low_key))
        .group_by(Member.area)
    )


# ------------------------------------------------------------------------------ quiet members


def quiet_members(
    uow: UnitOfWork, caller: Principal, weeks: int, now: datetime | None = None, limit: int = 200
) -> tuple[list[dict], int]:
    """Members with no activity for `weeks`, who agreed that a coordinator may reach out. The
    others are not listed, not even counted by name."""
    require_role(caller, Role.COORDINATOR)
    cutoff = (now or utcnow()) - timedelta(weeks=weeks)
    quiet = sa.and_(Member.consent_coordinator_contact.is_(True), Member.last_active_at < cutoff)
    with uow:
        total = uow.session.scalar(sa.select(sa.func.count()).where(quiet))
        rows = uow.session.execute(
            sa.select(
                Member.id,
                Member.display_name,
                Member.email,
                Member.area,
                Member.last_active_at,
                Member.created_at,
            )
            .where(quiet)
            .order_by(Member.last_active_at)
            .limit(limit)
        ).all()
    return [dict(row._mapping) for row in rows], total


# ------------------------------------------------------------------------------ organizations


def _listing_answers() -> sa.Subquery:
    """Per listing: how many members it was suggested to, and how they answered (members, not
    rows: a member suggested it again in a later week counts once)."""
    status, member = Suggestion.status, Suggestion.member_id
    return (
        sa.select(
            Suggestion.listing_id.label("listing_id"),
            sa.func.count(sa.distinct(member)).label("suggested"),
            sa.func.count(sa.distinct(sa.case((status == "yes", member)))).label("yes"),
            sa.func.count(sa.distinct(sa.case((status == "no", member)))).label("no"),
        )
        .where(Suggestion.kind == SuggestionKind.GROUP)
        .group_by(Suggestion.listing_id)
        .subquery()
    )


# Listings that have been in front of members: the ones whose places fill counts.
HAVE_BEEN_LIVE = (ListingStatus.ACTIVE, ListingStatus.PAUSED, ListingStatus.CLOSED)


def rate(part: int | None, whole: int | None) -> float | None:
    return (part or 0) / whole if whole else None


def organizations_report(uow: UnitOfWork, caller: Principal) -> list[dict]:
    """Each organization: listings live and waiting, answers, acceptance and fill rates."""
    require_role(caller, Role.COORDINATOR)
    answers = _listing_answers()
    yes = sa.func.coalesce(answers.c.yes, 0)
    # Fill: places taken over places offered, listing by listing (a full listing's extra yeses
    # do not fill another's empty places), over listings that have been live.
    capped = Listing.capacity.is_not(None) & Listing.status.in_(HAVE_BEEN_LIVE)
    taken = sa.case((yes > Listing.capacity, Listing.capacity), else_=yes)
    query = (
        sa.select(
            Organization.id,
            Organization.name,
            Organization.verified,
            sa.func.count(Listing.id).label("listings"),
            _total(sa.case((Listing.status == ListingStatus.ACTIVE, 1), else_=0)).label("active"),
            _total(sa.case((Listing.status == ListingStatus.PENDING_REVIEW, 1), else_=0)).label(
                "pending"
            ),
            _total(answers.c.suggested).label("suggested"),
            _total(answers.c.yes).label("yes"),
            _total(answers.c.no).label("no"),
            _total(sa.case((capped, taken), else_=0)).label("places_taken"),
            _total(sa.case((capped, Listing.capacity), else_=0)).label("capacity"),
        )
        .outerjoin(Listing, Listing.organization_id == Organization.id)
        .outerjoin(answers, answers.c.listing_id == Listing.id)
        .group_by(Organization.id, Organization.name, Organization.verified)
        .order_by(Organization.name)
    )
    with uow:
        rows = [dict(row._mapping) for row in uow.session.execute(query)]
    for row in rows:
        row["acceptance_rate"] = rate(row["yes"], row["yes"] + row["no"])
        row["fill_rate"] = rate(row["places_taken"], row["capacity"])
    return rows


def organization_listings(uow: UnitOfWork, caller: Principal, organization_id: int) -> list[dict]:
    require_role(caller, Role.COORDINATOR)
    answers = _listing_answers()
    query = (
        sa.select(
            Listing.id,
            Listing.title,
            Listing.status,
            Listing.capacity,
            sa.func.coalesce(answers.c.suggested, 0).label("suggested"),
            sa.func.coalesce(answers.c.yes, 0).label("yes"),
            sa.func.coalesce(answers.c.no, 0).label("no"),
        )
        .outerjoin(answers, answers.c.listing_id == Listing.id)
        .where(Listing.organization_id == organization_id)
        .order_by(Listing.status, Listing.title)
    )
    with uow:
        rows = [dict(row._mapping) for row in uow.session.execute(query)]
    for row in rows:
        row["acceptance_rate"] = rate(row["yes"], row["yes"] + row["no"])
        row["fill_rate"] = rate(min(row["yes"], row["capacity"] or 0), row["capacity"])
    return rows
