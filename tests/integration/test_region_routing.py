"""Region routing at publish time: each matching event to its subject's region's queue."""

from __future__ import annotations

import dataclasses
import json

import pytest

from service.adapters.orm import Listing, MatchRequest, Member, Organization, Suggestion
from service.bootstrap import bootstrap
from service.domain.events import EventKind, subject
from service.domain.regions import parse
from service.domain.vocabulary import (
    Direction,
    GroupSize,
    ListingKind,
    ListingStatus,
    Pace,
    Structure,
    SuggestionKind,
    SuggestionStatus,
)
from service.services import outbox
from workers.queues import queue

REGIONS = {"regions": {"nyc": [40.4, -74.3, 41.0, -73.6], "pdx": [45.2, -123.2, 45.8, -122.3]}}


@pytest.fixture
def regional(kindred):
    """The same databases, with two regions configured."""
    settings = dataclasses.replace(kindred.settings, regions=parse(json.dumps(REGIONS)))
    regional = bootstrap(settings)
    yield regional
    regional.close()


def listing(organization, lat, lon, virtual=False) -> Listing:
    return Listing(
        organization=organization,
        kind=ListingKind.CLUB,
        direction=Direction.RECEIVE,
        title="Chess",
        description="Chess in the park",
        is_virtual=virtual,
        lat=lat,
        lon=lon,
        group_size=GroupSize.SMALL,
        structure=Structure.STRUCTURED,
        pace=Pace.LOW_KEY,
        status=ListingStatus.ACTIVE,
        status_changed_by="test",
    )


def queued(kindred, name: str) -> set[str]:
    return set(queue(name, kindred.redis).job_ids)


def test_each_matching_event_goes_to_its_subjects_region(regional):
    with regional.uow(publish=False) as uow:
        session = uow.session
        organization = Organization(name="Parks", contact_email="parks@example.org")
        in_nyc = listing(organization, 40.73, -73.95)
        online = listing(organization, 40.73, -73.95, virtual=True)  # no place: the default
        in_pdx = Member(
            display_name="A", email="a@example.org", token_hash="a", lat=45.52, lon=-122.68
        )
        nowhere = Member(display_name="B", email="b@example.org", token_hash="b")
        session.add_all([in_nyc, online, in_pdx, nowhere])
        session.flush()
        asked = MatchRequest(member_id=in_pdx.id)
        answered = Suggestion(
            member_id=nowhere.id,
            kind=SuggestionKind.GROUP,
            target=subject("listing", in_nyc.id),
            listing_id=in_nyc.id,
            cycle="2026-W48",
            score=0.5,
            status=SuggestionStatus.YES,
        )
        session.add_all([asked, answered])
        session.flush()
        events = {
            "nyc listing": outbox.record(
                uow, EventKind.LISTING_PUBLISHED, subject("listing", in_nyc.id)
            ),
            "virtual listing": outbox.record(
                uow, EventKind.LISTING_PUBLISHED, subject("listing", online.id)
            ),
            "pdx request": outbox.record(
                uow, EventKind.MATCHES_REQUESTED, subject("match_request", asked.id)
            ),
            "answer by a member with no place": outbox.record(
                uow, EventKind.SUGGESTION_ANSWERED, subject("suggestion", answered.id)
            ),
            "gone listing": outbox.record(
                uow, EventKind.LISTING_PUBLISHED, subject("listing", 999)
            ),
            "ready note": outbox.record(
                uow, EventKind.MATCHES_READY, subject("match_request", asked.id)
            ),
        }
        uow.commit()
        ids = {name: f"event-{event.id}" for name, event in events.items()}
    assert len(regional.publisher.publish([int(i.split("-")[1]) for i in ids.values()])) == 6

    assert queued(regional, "matching-nyc") == {ids["nyc listing"]}
    assert queued(regional, "matching-pdx") == {ids["pdx request"]}
    assert queued(regional, "matching-default") == {
        ids["virtual listing"],
        ids["answer by a member with no place"],
        ids["gone listing"],
    }
    assert queued(regional, "notifications") == {ids["ready note"]}
    assert queued(regional, "matching") == set()


def test_without_regions_matching_events_stay_on_the_matching_queue(kindred):
    with kindred.uow(publish=False) as uow:
        event = outbox.record(uow, EventKind.LISTING_PUBLISHED, subject("listing", 1))
        uow.commit()
        event_id = event.id
    assert kindred.publisher.publish([event_id]) == [event_id]
    assert queued(kindred, "matching") == {f"event-{event_id}"}


def test_the_sql_region_filter_agrees_with_regions_of(kindred):
    """`in_region` (for a regional matcher's reads) puts each member where `Regions.of` does."""
    import sqlalchemy as sa

    from service.adapters.region_lookup import in_region

    regions = parse(
        json.dumps(
            {
                "regions": [
                    {"name": "nyc", "box": [40.4, -74.3, 41.0, -73.6]},
                    {"name": "wide", "box": [30.0, -80.0, 50.0, -70.0]},  # overlaps nyc
                    {"name": "fiji", "box": [-21.0, 176.0, -12.0, -178.0]},
                ]
            }
        )
    )
    places = [(40.73, -73.95), (42.0, -75.0), (-17.7, 179.0), (-17.7, -179.0), (0.0, 0.0)]
    places.append((None, None))
    with kindred.uow(publish=False) as uow:
        for n, (lat, lon) in enumerate(places):
            uow.session.add(
                Member(
                    display_name="M", email=f"m{n}@example.org", token_hash=f"{n}", lat=lat, lon=lon
                )
            )
        uow.commit()
    with kindred.uow(publish=False) as uow:
        members = uow.session.scalars(sa.select(Member)).all()
        expected = {m.id: regions.of(m.lat, m.lon) for m in members}
        for name in regions.names:
            found = uow.session.scalars(
                sa.select(Member.id).where(in_region(regions, name, Member.lat, Member.lon))
            ).all()
            assert set(found) == {i for i, region in expected.items() if region == name}, name
    assert set(expected.values()) == {"nyc", "wide", "fiji", "default"}
