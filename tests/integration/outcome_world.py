"""A world for the outcome figures: for each figure one group of exactly ten (shown) and one of
exactly nine (withheld), whose figures are distinctive so that a leak shows in raw text.

Month A is two calendar months before this one, month B three. Rows are written as the use cases
and jobs would have written them (attendance older than `i_went` accepts, check-ins the member
side records), straight into the real database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from service.adapters.orm import (
    ConnectionCheckIn,
    FollowUp,
    Introduction,
    Listing,
    Member,
    Organization,
    SessionAttendance,
    utcnow,
)
from service.domain.vocabulary import IntroductionStatus

# How the nine-member groups' figures would look if they leaked: 7/9, 6/9 and a mean of 59/9.
NINE_GROUP_FIGURES = ("0.778", "77.8", "78%", "0.667", "66.7", "67%", "6.56", "6.556")
SHOWN_TITLE, WITHHELD_TITLE = "Riverside walk", "Quiet book circle"


def month_start(today: date, back: int) -> date:
    year, month = today.year, today.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


def label(day: date) -> str:
    return f"{day:%Y-%m}"


@dataclass
class OutcomeWorld:
    month_a: str
    month_b: str
    shown_listing: int
    withheld_listing: int
    organization_id: int
    expected: dict = field(default_factory=dict)


class Builder:
    def __init__(self, session):
        self.session = session
        self.count = 0

    def member(self, **columns) -> int:
        self.count += 1
        member = Member(
            display_name=f"Outcome {self.count}",
            email=f"outcome{self.count}@example.org",
            token_hash=f"outcome-hash-{self.count}",
            **columns,
        )
        self.session.add(member)
        self.session.flush()
        return member.id

    def members(self, how_many: int, **columns) -> list[int]:
        return [self.member(**columns) for _ in range(how_many)]

    def went(self, member_id: int, listing_id: int, day: date) -> None:
        self.session.add(
            SessionAttendance(
                member_id=member_id, listing_id=listing_id, session_on=day, recorded_by="member"
            )
        )

    def introduce(self, first: int, second: int, on: date, **columns) -> int:
        low, high = sorted((first, second))
        introduction = Introduction(
            member_low_id=low,
            member_high_id=high,
            status=columns.pop("status", IntroductionStatus.INTRODUCED),
            introduced_at=columns.pop(
                "introduced_at", datetime.combine(on, time(12, 0), tzinfo=UTC)
            ),
        )
        self.session.add(introduction)
        self.session.flush()
        return introduction.id

    def reply(self, member_id: int, introduction_id: int, reply: str, on: date) -> None:
        self.session.add(
            FollowUp(
                member_id=member_id,
                subject=f"introduction:{introduction_id}",
                introduction_id=introduction_id,
                step=1,
                due_on=on,
                delivered_by="notification",
                reply=reply,
                replied_at=datetime.combine(on, time(18, 0), tzinfo=UTC),
            )
        )

    def checkin(self, member_id: int, month: str, score: int) -> None:
        items = [1, 1, 1]
        for index in range(score - 3):
            items[index % 3] += 1
        self.session.add(
            ConnectionCheckIn(
                member_id=member_id,
                month=month,
                lack_companionship=items[0],
                left_out=items[1],
                isolated=items[2],
                score=score,
            )
        )

    def listing(self, organization_id: int, title: str) -> int:
        listing = Listing(
            organization_id=organization_id,
            kind="club",
            direction="receive",
            title=title,
            description="A test listing.",
            lat=51.46,
            lon=-2.59,
            area="Easton",
            group_size="small",
            structure="structured",
            pace="low_key",
            status="active",
            status_changed_by="coordinator:1",
        )
        self.session.add(listing)
        self.session.flush()
        return listing.id


def build_outcome_world(kindred) -> OutcomeWorld:
    today = utcnow().date()
    a, b = month_start(today, 2), month_start(today, 3)
    with kindred.uow() as uow:
        build = Builder(uow.session)
        organization = Organization(name="Outcome Walkers", contact_email="o@walkers.example")
        uow.session.add(organization)
        uow.session.flush()
        shown = build.listing(organization.id, SHOWN_TITLE)
        withheld = build.listing(organization.id, WITHHELD_TITLE)

        # Second visits and attendance. Month A: ten newcomers at the walk, six back within six
        # weeks, one back only after 50 days. Month B: nine at the book circle, seven back.
        newcomers = build.members(10)
        for member_id in newcomers:
            build.went(member_id, shown, a + timedelta(days=2))
        for member_id in newcomers[:6]:
            build.went(member_id, shown, a + timedelta(days=9))
        build.went(newcomers[9], shown, a + timedelta(days=52))
        nine = build.members(9)
        for member_id in nine:
            build.went(member_id, withheld, b + timedelta(days=2))
        for member_id in nine[:7]:
            build.went(member_id, withheld, b + timedelta(days=9))
        for member_id in nine[:2]:
            build.went(member_id, withheld, b + timedelta(days=16))

        # Introductions. Month A: ten; two pairs then met at the walk (A+9), two said they kept
        # in touch; one pair met only before they were introduced, one said "not for me".
        # Month B: nine, seven kept in touch. A pending one is not an introduction yet.
        met_on = a + timedelta(days=3)
        n = newcomers
        build.introduce(n[0], n[1], met_on)
        build.introduce(n[2], n[3], met_on)
        build.introduce(n[4], n[7], met_on)
        build.introduce(n[8], n[9], met_on)
        others = build.members(12)
        pairs = [build.introduce(others[i], others[i + 1], met_on) for i in range(0, 12, 2)]
        build.reply(others[0], pairs[0], "kept_in_touch", met_on + timedelta(days=7))
        build.reply(others[3], pairs[1], "kept_in_touch", met_on + timedelta(days=7))
        build.reply(others[4], pairs[2], "not_for_me", met_on + timedelta(days=7))
        pending = build.members(2)
        build.introduce(
            pending[0], pending[1], met_on, status=IntroductionStatus.PENDING, introduced_at=None
        )
        earlier = build.members(18)
        on_b = b + timedelta(days=5)
        b_pairs = [build.introduce(earlier[i], earlier[i + 1], on_b) for i in range(0, 18, 2)]
        for introduction_id, member_id in zip(b_pairs[:7], earlier[::2], strict=False):
            build.reply(member_id, introduction_id, "kept_in_touch", on_b + timedelta(days=7))

        # Check-ins. Month A: ten "start slowly" members (shown), nine others (withheld) and one
        # more who has since withdrawn the check-in consent (not counted). Month B: the others
        # and one more are ten (shown); nine "start slowly" (withheld).
        consent = {"consent_connection_checkin": True}
        slow = build.members(10, start_slowly=True, **consent)
        steady = build.members(9, **consent)
        withdrawn = build.member(consent_connection_checkin=False)
        late_joiner = build.member(**consent)
        for member_id, score in zip(slow, [3, 4, 5, 6, 6, 7, 7, 8, 8, 8], strict=True):
            build.checkin(member_id, label(a), score)
        for member_id, score in zip(steady, [9, 9, 8, 7, 7, 6, 5, 4, 4], strict=True):
            build.checkin(member_id, label(a), score)
        build.checkin(withdrawn, label(a), 9)
        for member_id in [*steady, late_joiner]:
            build.checkin(member_id, label(b), 5)
        for member_id in slow[:9]:
            build.checkin(member_id, label(b), 4)
        uow.commit()
        organization_id = organization.id

    month_a, month_b = label(a), label(b)
    expected = {
        "second_visits": [{"month": month_a, "newcomers": 10, "came_back": 6, "rate": 0.6}],
        "introductions": [
            {"month": month_a, "introductions": 10, "second_contact": 4, "rate": 0.4}
        ],
        "attendance": [
            {
                "listing_id": shown,
                "title": SHOWN_TITLE,
                "month": month_a,
                "attendees": 10,
                "attendances": 16,
            }
        ],
        # The walk in month A, and its one attendee 50 days after (a later month).
        "attendance_withheld": 2,
        "start_slowly": [{"month": month_a, "members": 10, "mean_score": 6.2, "share_lonely": 0.7}],
        "others": [{"month": month_b, "members": 10, "mean_score": 5.0, "share_lonely": 0.0}],
    }
    return OutcomeWorld(month_a, month_b, shown, withheld, organization_id, expected)
