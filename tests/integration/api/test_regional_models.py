"""Regional models: a region's worker fits only its members and the listings they can reach, and
a virtual listing (which fits members anywhere) reaches every region through its own model."""

from __future__ import annotations

import dataclasses
import json

import pytest
import sqlalchemy as sa

from service.adapters.orm import OutboxEvent, Suggestion
from service.domain.events import EventKind
from service.domain.regions import parse
from service.services import outbox
from tests.integration.api.conftest import listing_body, sign_up
from tests.integration.api.test_region_pipeline import counts, serve
from workers import context

BRISTOL = {"regions": {"bristol": [51.3, -2.8, 51.6, -2.4]}, "default": "elsewhere"}
ONLINE_TOO = {
    "consents": {"matching": True, "peer_introductions": True},
    "attendance": "either",
    "interests": ["gardening", "food"],
}
LONDON = {"lat": 51.51, "lon": -0.12}
VIRTUAL = {"is_virtual": True, "lat": None, "lon": None, "area": None}


@pytest.fixture(autouse=True)
def regional(kindred):
    kindred.settings = dataclasses.replace(kindred.settings, regions=parse(json.dumps(BRISTOL)))
    context.use(kindred)


@pytest.fixture
def world(app, verified_partner):
    """Ann in Bristol, Cal in London; a listing in each city and one online."""
    people = {
        "ann": sign_up(app, **ONLINE_TOO),
        "cal": sign_up(app, email="cal@example.org", display_name="Cal", **ONLINE_TOO, **LONDON),
    }
    listings = {}
    for name, body in (
        ("bristol", listing_body(title="Easton garden club")),
        ("london", listing_body(title="Hackney garden club", area="Hackney", **LONDON)),
        ("online", listing_body(title="Online garden talk", **VIRTUAL)),
    ):
        response = verified_partner.post("/api/v1/listings", json=body)
        assert response.status_code == 201, response.json
        listings[name] = response.json["id"]
    return people, listings


def fitted_for(kindred, region):
    with kindred.uow() as uow:
        return kindred.matchers.get(uow.session, region)


def test_a_regions_model_holds_its_members_and_the_listings_they_can_reach(kindred, world):
    people, listings = world
    bristol, elsewhere = fitted_for(kindred, "bristol"), fitted_for(kindred, "elsewhere")
    assert list(bristol.members.member_ids) == [people["ann"].member_id]
    assert set(bristol.group.listing_ids_) == {listings["bristol"], listings["online"]}
    assert list(elsewhere.members.member_ids) == [people["cal"].member_id]
    assert set(elsewhere.group.listing_ids_) == {listings["london"], listings["online"]}
    assert kindred.matchers.fits == 2


def test_a_change_in_one_region_refits_only_that_regions_model(kindred, world, verified_partner):
    fitted_for(kindred, "bristol"), fitted_for(kindred, "elsewhere")
    fits = kindred.matchers.fits
    verified_partner.post("/api/v1/listings", json=listing_body(title="Camden walk", **LONDON))
    assert fitted_for(kindred, "bristol") is fitted_for(kindred, "bristol")
    assert kindred.matchers.fits == fits  # Bristol's model still holds
    fitted_for(kindred, "elsewhere")
    assert kindred.matchers.fits == fits + 1


def test_a_virtual_listing_fans_out_to_every_region_on_its_workers(kindred, world):
    people, listings = world
    assert counts(kindred)["matching-elsewhere"] == 2  # London's fan-out and the online one's

    serve(kindred, "matching-elsewhere")
    with kindred.uow() as uow:
        shares = uow.session.execute(
            sa.select(OutboxEvent.region).where(OutboxEvent.kind == "ListingFanOut")
        ).scalars()
        assert sorted(shares) == ["bristol", "elsewhere"]  # one per region, recorded once
    # The elsewhere share ran in the same burst; Bristol's waits for Bristol's worker (with
    # the Bristol listing's own fan-out).
    assert counts(kindred)["matching-bristol"] == 2

    def offered(person) -> set[int]:
        with kindred.uow() as uow:
            return set(
                uow.session.scalars(
                    sa.select(Suggestion.listing_id).where(Suggestion.member_id == person.member_id)
                )
            )

    assert listings["online"] in offered(people["cal"])
    assert offered(people["ann"]) == set()
    serve(kindred, "matching-bristol")
    assert listings["online"] in offered(people["ann"])
    assert listings["london"] not in offered(people["ann"])
    assert counts(kindred)["matching-bristol"] == 0
    with kindred.uow() as uow:  # every event handled, none left behind
        assert not uow.session.scalars(
            sa.select(OutboxEvent.kind).where(
                OutboxEvent.handled_at.is_(None), OutboxEvent.kind != "NotificationCreated"
            )
        ).all()


def test_without_regions_a_virtual_listing_fans_out_once(kindred, app, verified_partner):
    kindred.settings = dataclasses.replace(kindred.settings, regions=None)
    ann = sign_up(app, **ONLINE_TOO)
    response = verified_partner.post("/api/v1/listings", json=listing_body(**VIRTUAL))
    assert response.status_code == 201
    serve(kindred, "matching")
    with kindred.uow() as uow:
        kinds = uow.session.scalars(sa.select(OutboxEvent.kind)).all()
        offered = uow.session.scalars(
            sa.select(Suggestion.listing_id).where(Suggestion.member_id == ann.member_id)
        ).all()
    assert "ListingFanOut" not in kinds
    assert offered == [response.json["id"]]


def test_erasing_a_member_refits_their_regions_model_on_its_queue(kindred, world):
    people, _ = world
    fitted_for(kindred, "bristol")
    before = fitted_for(kindred, "elsewhere")
    folder = kindred.settings.models_folder
    from_before_regions = folder / "all" / "0123.pkl"  # the one model, before regions were set
    from_before_regions.parent.mkdir()
    from_before_regions.write_bytes(b"a model holding everyone")
    assert people["cal"].member_id in before.members.member_ids
    assert people["cal"].delete("/api/v1/members/me").status_code == 204
    with kindred.uow() as uow:
        (erased,) = uow.session.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.kind == "MemberErased")
        )
        assert (erased.subject, erased.region) == (f"member:{people['cal'].member_id}", "elsewhere")
    assert counts(kindred)["matching-elsewhere"] == 3  # two fan-outs waiting, and the refit
    serve(kindred, "matching-elsewhere")
    after = fitted_for(kindred, "elsewhere")
    assert after.fingerprint != before.fingerprint
    assert after.members is None  # Cal was the region's only member
    # Every other model file might hold Cal (Bristol's too, had Cal moved): only the refit stays.
    assert [p.relative_to(folder).parts[0] for p in folder.rglob("*.pkl")] == ["elsewhere"]
    assert list(fitted_for(kindred, "bristol").members.member_ids) == [people["ann"].member_id]


def test_an_event_naming_a_region_no_longer_configured_goes_by_its_subjects_place(kindred, world):
    _, listings = world
    with kindred.uow(publish=False) as uow:
        event = outbox.record(
            uow, EventKind.LISTING_FAN_OUT, f"listing:{listings['online']}", region="gone"
        )
        uow.commit()
        event_id = event.id
    before = counts(kindred)["matching-elsewhere"]
    assert kindred.publisher.publish([event_id]) == [event_id]
    assert counts(kindred)["matching-elsewhere"] == before + 1  # a virtual listing: the default
    serve(kindred, "matching-elsewhere")  # handled there, with the default region's model
    with kindred.uow() as uow:
        assert uow.session.get(OutboxEvent, event_id).handled_at is not None
