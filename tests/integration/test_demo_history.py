"""The demo city's sixteen weeks of history give the Outcomes page something to show."""

from __future__ import annotations

import sqlalchemy as sa

from service.adapters.orm import ConnectionCheckIn, Member, SessionAttendance, utcnow
from service.demo.seed import seed_demo
from service.services.outcomes import MIN_GROUP_SIZE, OPERATOR, outcomes


def test_every_outcome_figure_has_months_to_show_on_the_demo(kindred):
    seed_demo(kindred, progress=False)
    report = outcomes(kindred.uow(), OPERATOR, months=6)
    assert len(report.second_visits.rows) >= 3
    assert len(report.introductions.rows) >= 3
    assert len(report.attendance.rows) >= 5 and report.attendance.withheld > 0
    assert len(report.top_listings) == 5
    for cohort in ("start_slowly", "others"):
        assert len(report.checkins[cohort].rows) >= 3, cohort
    for rows in (report.second_visits.rows, report.introductions.rows):
        assert all(row["rate"] is not None and 0 < row["rate"] < 1 for row in rows)
    assert all(row["attendees"] >= MIN_GROUP_SIZE for row in report.attendance.rows)
    # "Start slowly" members begin lonelier and improve more (as the history was invented).
    slow, others = (report.checkins[c].rows for c in ("start_slowly", "others"))
    assert (
        slow[0]["mean_score"] - slow[-1]["mean_score"]
        > others[0]["mean_score"] - others[-1]["mean_score"]
    )


def test_the_history_keeps_the_rules_of_real_data(kindred):
    seed_demo(kindred, member_count=60, listing_count=30, progress=False)
    with kindred.uow() as uow:
        session = uow.session
        # Check-ins only from members who gave that consent; scores the sum of their items.
        without_consent = session.scalar(
            sa.select(sa.func.count())
            .select_from(ConnectionCheckIn)
            .join(Member, Member.id == ConnectionCheckIn.member_id)
            .where(Member.consent_connection_checkin.is_(False))
        )
        assert without_consent == 0
        sums = session.execute(
            sa.select(
                ConnectionCheckIn.score,
                ConnectionCheckIn.lack_companionship
                + ConnectionCheckIn.left_out
                + ConnectionCheckIn.isolated,
            )
        ).all()
        assert sums and all(score == total and 3 <= score <= 9 for score, total in sums)
        latest = session.scalar(sa.select(sa.func.max(SessionAttendance.session_on)))
        assert latest <= utcnow().date()
