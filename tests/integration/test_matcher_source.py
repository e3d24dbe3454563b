"""The matcher's view of the database, read fast, is the same view as through the ORM."""

from __future__ import annotations

import sqlalchemy as sa

from service.adapters.matcher_source import consenting_profiles, profile_record
from service.adapters.orm import Member
from service.demo.seed import seed_demo


def test_consenting_profiles_read_as_columns_equal_the_orm_records(kindred):
    seed_demo(kindred, member_count=60, listing_count=10, progress=False)
    with kindred.uow() as uow:
        fast = consenting_profiles(uow.session)
        members = uow.session.scalars(
            sa.select(Member).where(Member.consent_matching.is_(True)).order_by(Member.id)
        ).all()
        through_orm = [profile_record(m) for m in members]
        everyone = uow.session.scalar(sa.select(sa.func.count()).select_from(Member))
    assert fast == through_orm
    assert 0 < len(fast) < everyone  # the demo has members who did not consent: left out


def test_the_fitted_matchers_index_every_consenting_member_for_the_fan_out(kindred):
    seed_demo(kindred, member_count=40, listing_count=10, progress=False)
    with kindred.uow() as uow:
        fitted = kindred.matchers.get(uow.session)
        consenting = uow.session.scalars(
            sa.select(Member.id).where(Member.consent_matching.is_(True)).order_by(Member.id)
        ).all()
    assert list(fitted.members.member_ids) == list(consenting)
