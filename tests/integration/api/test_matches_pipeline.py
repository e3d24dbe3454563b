"""A match request flows API -> outbox -> RQ (real Redis) -> a real worker -> suggestions and inbox.

Workers here are kindred's RQ worker in burst mode: they run every queued job exactly as
`kindred worker` does, then return.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.adapters.orm import Introduction, Notification, OutboxEvent, Suggestion
from service.adapters.publisher import job_id
from service.services import events, matching
from tests.integration.api.conftest import listing_body, run_worker, sign_up
from workers import context
from workers.maintenance import sweep_outbox
from workers.queues import ALL_QUEUES, queue

CONSENTING = {"consents": {"matching": True, "peer_introductions": True}}


@pytest.fixture(autouse=True)
def jobs_use_this_service(kindred):
    context.use(kindred)


@pytest.fixture
def catalogue(verified_partner, kindred):
    """Three live listings near the members: two about gardening, one about chess."""
    ids = []
    for title, interests in (
        ("Gentle garden club", ["gardening", "food"]),
        ("Community orchard", ["gardening", "trees"]),
        ("Quiet chess evening", ["chess", "games"]),
    ):
        response = verified_partner.post(
            "/api/v1/listings", json=listing_body(title=title, interests=interests)
        )
        assert response.status_code == 201, response.json
        assert response.json["status"] == "active"
        ids.append(response.json["id"])
    run_worker(kindred)  # their fan-out runs now, before any member exists
    return ids


@pytest.fixture
def ann(app):
    return sign_up(app, **CONSENTING)


def test_a_match_request_reaches_done_with_reasoned_suggestions(app, kindred, catalogue, ann):
    asked = ann.post("/api/v1/members/me/match-requests")
    assert asked.status_code == 202
    location = asked.headers["Location"]
    assert location == f"/api/v1/match-requests/{asked.json['id']}"
    assert ann.get(location).json["status"] == "queued"

    run_worker(kindred)

    done = ann.get(location).json
    assert done["status"] == "done" and done["group_count"] >= 2
    suggestions = ann.get("/api/v1/members/me/suggestions").json
    titles = [s["listing"]["title"] for s in suggestions["groups"]]
    assert set(titles[:2]) == {"Gentle garden club", "Community orchard"}
    first = suggestions["groups"][0]
    assert 0 <= first["score"] <= 1
    assert any("gardening" in reason for reason in first["reasons"])
    inbox = ann.get("/api/v1/members/me/notifications").json
    assert [n["kind"] for n in inbox] == ["matches_ready"]
    assert inbox[0]["read_at"] is None
    # The dashboard's "without a good match" reads this, kept by the job; not a profile change.
    best = max(group["score"] for group in suggestions["groups"])
    with kindred.uow() as uow:
        member = uow.members.get(ann.member_id)
        assert (member.last_good_match_at is not None) == (best >= 0.5)
        assert member.updated_at < member.last_good_match_at


def test_asking_twice_while_waiting_is_one_request(kindred, catalogue, ann):
    first = ann.post("/api/v1/members/me/match-requests").json
    second = ann.post("/api/v1/members/me/match-requests").json
    assert first["id"] == second["id"]
    assert queue("matching", kindred.redis).count == 1


def test_matching_needs_consent(app, catalogue):
    member = sign_up(app, email="nc@example.org")  # consents default to not given
    response = member.post("/api/v1/members/me/match-requests")
    assert response.status_code == 422
    assert "consents.matching" in response.json["errors"]


def test_the_same_event_delivered_twice_notifies_once(kindred, catalogue, ann):
    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    with kindred.uow() as uow:
        event_ids = uow.session.scalars(sa.select(OutboxEvent.id)).all()
    for event_id in event_ids:  # as if RQ handed every job out a second time
        assert events.handle(kindred, event_id) == "already handled"
    with kindred.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 1
        suggestions = uow.session.scalar(sa.select(sa.func.count()).select_from(Suggestion))
    assert suggestions == 3


def test_work_waits_in_the_outbox_while_redis_is_down_then_happens_once(
    kindred, settings, catalogue, ann
):
    import dataclasses

    from service.app import create_app
    from service.bootstrap import bootstrap

    # The same database, but Redis refuses connections: nothing listens on port 1.
    cut_off = bootstrap(dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0"))
    client = create_app(kindred=cut_off).test_client()
    headers = {"Authorization": f"Bearer {ann.token}"}
    asked = client.post("/api/v1/members/me/match-requests", headers=headers)
    cut_off.close()
    assert asked.status_code == 202  # the API still answers; the event waits in the database
    assert all(queue(name, kindred.redis).count == 0 for name in ALL_QUEUES)

    _age_events(kindred, seconds=30)  # Redis is back (the test's own) when the sweep runs
    assert sweep_outbox()["published"] == 1
    assert sweep_outbox()["published"] == 0  # published once: the next sweep finds nothing
    run_worker(kindred)
    assert ann.get(asked.headers["Location"]).json["status"] == "done"
    assert len(ann.get("/api/v1/members/me/notifications").json) == 1


def test_jobs_lost_with_a_flushed_redis_are_published_again(app, kindred, catalogue, ann):
    asked = ann.post("/api/v1/members/me/match-requests")
    with kindred.uow() as uow:
        (event_id,) = uow.session.scalars(
            sa.select(OutboxEvent.id).where(OutboxEvent.handled_at.is_(None))
        ).all()
    assert kindred.publisher.job_exists(event_id)
    kindred.redis.flushdb()  # the job is gone; the database still says "published"
    assert sweep_outbox()["lost"] == 0  # too early to call it lost
    _age_events(kindred, seconds=120)
    assert sweep_outbox() == {"unpublished": 0, "lost": 1, "published": 1, "revived": 0}
    assert queue("matching", kindred.redis).job_ids == [job_id(event_id)]
    run_worker(kindred)
    assert ann.get(asked.headers["Location"]).json["status"] == "done"
    assert len(ann.get("/api/v1/members/me/notifications").json) == 1


def test_answers_are_remembered_and_no_never_returns(app, kindred, catalogue, ann):
    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    groups = ann.get("/api/v1/members/me/suggestions").json["groups"]
    declined = groups[0]
    response = ann.post(f"/api/v1/suggestions/{declined['id']}/response", json={"answer": "no"})
    assert response.status_code == 200 and response.json["status"] == "no"
    again = ann.post(f"/api/v1/suggestions/{declined['id']}/response", json={"answer": "yes"})
    assert again.status_code == 422 and "answer" in again.json["errors"]

    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    current = ann.get("/api/v1/members/me/suggestions").json["groups"]
    assert declined["listing"]["id"] not in [s["listing"]["id"] for s in current]


def test_bad_answers_and_other_peoples_suggestions_are_refused(app, kindred, catalogue, ann):
    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    mine = ann.get("/api/v1/members/me/suggestions").json["groups"][0]["id"]
    bad = ann.post(f"/api/v1/suggestions/{mine}/response", json={"answer": "maybe"})
    assert bad.status_code == 422 and "answer" in bad.json["errors"]
    bob = sign_up(app, email="bob@example.org", **CONSENTING)
    stranger = bob.post(f"/api/v1/suggestions/{mine}/response", json={"answer": "yes"})
    assert stranger.status_code == 404


def test_notifications_can_be_marked_read(kindred, catalogue, ann):
    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    (note,) = ann.get("/api/v1/members/me/notifications?unread=true").json
    read = ann.post(f"/api/v1/members/me/notifications/{note['id']}/read")
    assert read.status_code == 200 and read.json["read_at"] is not None
    assert ann.get("/api/v1/members/me/notifications?unread=true").json == []


def _age_events(kindred, seconds: int) -> None:
    """Move every event's clock back, as if the sweep ran that much later."""
    from datetime import timedelta

    with kindred.uow(publish=False) as uow:
        for event in uow.session.scalars(sa.select(OutboxEvent)):
            event.created_at -= timedelta(seconds=seconds)
            if event.published_at is not None:
                event.published_at -= timedelta(seconds=seconds)
        uow.commit()


# ---------------------------------------------------------------- introductions by double opt-in


@pytest.fixture
def bob(app):
    return sign_up(app, email="bob@example.org", display_name="Bob", **CONSENTING)


def peer_suggestion(member) -> dict:
    (suggestion,) = member.get("/api/v1/members/me/suggestions").json["peers"]
    return suggestion


def answer(member, suggestion: dict, said: str) -> None:
    path = f"/api/v1/suggestions/{suggestion['id']}/response"
    response = member.post(path, json={"answer": said})
    assert response.status_code == 200, response.json


def kinds(member) -> list[str]:
    return [n["kind"] for n in member.get("/api/v1/members/me/notifications").json]


def test_two_yeses_make_one_introduction_and_two_notifications(kindred, catalogue, ann, bob):
    bob.patch("/api/v1/members/me", json={"share_email_on_introduction": True})
    for member in (ann, bob):
        member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    to_bob, to_ann = peer_suggestion(ann), peer_suggestion(bob)
    assert to_bob["peer"] == {"display_name": "Bob"}  # nothing private before both say yes
    assert any("you both care about environment" in r for r in to_bob["reasons"])

    answer(ann, to_bob, "yes")
    run_worker(kindred)
    assert "introduction" not in kinds(ann) + kinds(bob)  # one yes is not enough
    answer(bob, to_ann, "yes")
    run_worker(kindred)

    assert kinds(ann).count("introduction") == 1 and kinds(bob).count("introduction") == 1
    (for_ann,) = ann.get("/api/v1/members/me/introductions").json
    (for_bob,) = bob.get("/api/v1/members/me/introductions").json
    assert for_ann["peer"] == {"display_name": "Bob", "email": "bob@example.org"}
    assert for_bob["peer"] == {"display_name": "Ann"}  # Ann did not share her email
    with kindred.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Introduction)) == 1


def test_a_no_closes_it_quietly_and_the_pair_never_returns(kindred, catalogue, ann, bob):
    for member in (ann, bob):
        member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    answer(ann, peer_suggestion(ann), "yes")
    answer(bob, peer_suggestion(bob), "no")
    run_worker(kindred)
    assert "introduction" not in kinds(ann) + kinds(bob)
    assert ann.get("/api/v1/members/me/introductions").json == []
    assert bob.get("/api/v1/members/me/introductions").json == []

    for member in (ann, bob):  # matching again: neither is suggested to the other
        member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    assert ann.get("/api/v1/members/me/suggestions").json["peers"] == []
    assert bob.get("/api/v1/members/me/suggestions").json["peers"] == []


def test_matching_again_the_same_week_keeps_one_row_per_target(kindred, catalogue, ann, bob):
    """A suggestion that made way earlier this week, or a peer already said yes to, is the same
    row when wanted again (one per member, target and week), never a second one."""
    for member in (ann, bob):
        member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    first = {s["id"] for s in ann.get("/api/v1/members/me/suggestions").json["groups"]}
    answer(ann, peer_suggestion(ann), "yes")
    with kindred.uow() as uow:  # as if a re-match in between had not held them
        uow.session.execute(
            sa.update(Suggestion)
            .where(Suggestion.member_id == ann.member_id, Suggestion.status == "open")
            .values(status="expired")
        )
        uow.commit()

    again = ann.post("/api/v1/members/me/match-requests").json
    run_worker(kindred)

    assert ann.get(f"/api/v1/match-requests/{again['id']}").json["status"] == "done"
    assert {s["id"] for s in ann.get("/api/v1/members/me/suggestions").json["groups"]} == first
    assert ann.get("/api/v1/members/me/suggestions").json["peers"] == []  # Bob: answered yes
    with kindred.uow() as uow:
        count = sa.select(sa.func.count()).select_from(Suggestion)
        assert uow.session.scalar(count.where(Suggestion.member_id == ann.member_id)) == 4


def test_a_yes_asks_the_other_member_without_telling_them(kindred, catalogue, ann, bob):
    ann.post("/api/v1/members/me/match-requests")  # Bob never asked
    run_worker(kindred)
    assert bob.get("/api/v1/members/me/suggestions").json["peers"] == []
    answer(ann, peer_suggestion(ann), "yes")
    run_worker(kindred)
    to_ann = peer_suggestion(bob)
    assert to_ann["peer"] == {"display_name": "Ann"} and to_ann["status"] == "open"
    assert not any("yes" in reason for reason in to_ann["reasons"])
    answer(bob, to_ann, "yes")
    run_worker(kindred)
    assert kinds(ann).count("introduction") == 1 and kinds(bob).count("introduction") == 1


def test_the_worker_fits_the_matchers_once_for_many_jobs(app, kindred, catalogue, ann, bob):
    fits_before = kindred.matchers.fits  # the catalogue's fan-out fitted once already
    for member in (ann, bob):
        member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)  # two matching jobs in the same worker
    # Fitted once more (members changed since), then reused by the second job.
    assert kindred.matchers.fits == fits_before + 1
    assert all(m.get("/api/v1/members/me/suggestions").json["groups"] for m in (ann, bob))


# ---------------------------------------------------------------- fan-out of new listings

FAR_AWAY = {"lat": 53.48, "lon": -2.24}  # Manchester, from members near Bristol


def publish(partner, **overrides) -> int:
    response = partner.post("/api/v1/listings", json=listing_body(**overrides))
    assert response.status_code == 201, response.json
    return response.json["id"]


def suggested_listings(member) -> list[int]:
    return [s["listing"]["id"] for s in member.get("/api/v1/members/me/suggestions").json["groups"]]


def test_a_published_listing_reaches_the_members_it_fits_and_no_one_else(
    app, kindred, verified_partner
):
    fits = sign_up(app, email="fits@example.org", interests=["gardening"], **CONSENTING)
    chess = sign_up(
        app, email="chess@example.org", interests=["chess"], causes=["literacy"], **CONSENTING
    )
    far = sign_up(app, email="far@example.org", interests=["gardening"], **FAR_AWAY, **CONSENTING)
    no_consent = sign_up(app, email="nc@example.org", interests=["gardening"])

    garden = publish(verified_partner, title="Community garden", interests=["gardening"])
    run_worker(kindred)

    assert suggested_listings(fits) == [garden]
    (note,) = fits.get("/api/v1/members/me/notifications").json
    assert note["kind"] == "new_listing" and note["title"] == "New near you: Community garden"
    assert "gardening" in note["body"] and "km from you" in note["body"]
    (suggestion,) = fits.get("/api/v1/members/me/suggestions").json["groups"]
    assert any("matches your interest in gardening" in r for r in suggestion["reasons"])
    for other in (chess, far, no_consent):
        assert other.get("/api/v1/members/me/notifications").json == []
    assert suggested_listings(chess) == [] and suggested_listings(far) == []
    with kindred.uow() as uow:
        told = [uow.members.get(m.member_id).last_good_match_at for m in (fits, chess, far)]
    assert told[0] is not None and told[1:] == [None, None]


def test_the_weekly_budget_caps_unasked_for_news(app, kindred, verified_partner):
    member = sign_up(app, email="b@example.org", interests=["gardening"], **CONSENTING)
    # Two a week: one kept for the weekly digest, one for news like this.
    member.patch("/api/v1/members/me", json={"max_notifications_per_week": 2})
    first = publish(verified_partner, title="Community garden", interests=["gardening"])
    publish(verified_partner, title="Allotment mornings", interests=["gardening"])
    run_worker(kindred)
    assert suggested_listings(member) == [first]
    assert [n["kind"] for n in member.get("/api/v1/members/me/notifications").json] == [
        "new_listing"
    ]


def test_a_listing_is_announced_when_it_goes_live_not_before(app, kindred, partner, coordinator):
    member = sign_up(app, email="w@example.org", interests=["gardening"], **CONSENTING)
    waiting = publish(partner, title="Community garden", interests=["gardening"])  # unverified
    run_worker(kindred)
    assert suggested_listings(member) == []
    approved = coordinator.post(f"/api/v1/listings/{waiting}/review", json={"decision": "approve"})
    assert approved.status_code == 200, approved.json
    run_worker(kindred)
    assert suggested_listings(member) == [waiting]


# ---------------------------------------------------------------- automatic, debounced re-matching


def _make_due(kindred, member_id: int) -> None:
    """As if the quiet time after the last change had passed."""
    from datetime import timedelta

    with kindred.uow(publish=False) as uow:
        member = uow.members.get(member_id)
        member.rematch_due_at -= timedelta(minutes=5)
        uow.commit()


def _due(kindred, member_id: int):
    with kindred.uow() as uow:
        return uow.members.get(member_id).rematch_due_at


def test_edits_in_a_row_rematch_once_after_the_member_stops(app, kindred, catalogue, ann):
    start_due_rematches = matching.start_due_rematches
    _make_due(kindred, ann.member_id)  # the sign-up's own first match
    assert start_due_rematches(kindred) == 1
    run_worker(kindred)
    for interests in (["chess"], ["chess", "games"], ["chess", "games", "go"]):  # keystrokes
        assert ann.patch("/api/v1/members/me", json={"interests": interests}).status_code == 200
    first_due = _due(kindred, ann.member_id)
    assert start_due_rematches(kindred) == 0  # still editing: nothing yet
    ann.patch("/api/v1/members/me", json={"travel_radius_km": 8})
    assert _due(kindred, ann.member_id) >= first_due  # each change pushes it back
    _make_due(kindred, ann.member_id)
    assert start_due_rematches(kindred) == 1
    assert start_due_rematches(kindred) == 0  # once
    run_worker(kindred)
    groups = ann.get("/api/v1/members/me/suggestions").json["groups"]
    assert groups[0]["listing"]["title"] == "Quiet chess evening"


def test_a_name_change_does_not_rematch_but_a_new_consent_does(app, kindred, catalogue):
    member = sign_up(app, email="later@example.org")  # no consent yet: nothing scheduled
    assert _due(kindred, member.member_id) is None
    member.patch("/api/v1/members/me", json={"display_name": "Robin"})
    assert _due(kindred, member.member_id) is None
    member.put("/api/v1/members/me/consents", json={"matching": True, "peer_introductions": False})
    assert _due(kindred, member.member_id) is not None
    _make_due(kindred, member.member_id)
    assert matching.start_due_rematches(kindred) == 1


# ---------------------------------------------------------------- what partners see


def test_partners_see_counts_and_only_the_contacts_members_chose_to_share(
    app, kindred, catalogue, verified_partner, other_partner, coordinator
):
    garden = catalogue[0]
    sharer = sign_up(app, email="share@example.org", display_name="Sam", **CONSENTING)
    private = sign_up(app, email="private@example.org", display_name="Pat", **CONSENTING)
    for member in (sharer, private):
        member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)

    def answer_garden(member, **body):
        (suggestion,) = [
            s
            for s in member.get("/api/v1/members/me/suggestions").json["groups"]
            if s["listing"]["id"] == garden
        ]
        path = f"/api/v1/suggestions/{suggestion['id']}/response"
        return member.post(path, json=body)

    assert answer_garden(sharer, answer="yes", share_contact=True).status_code == 200
    assert answer_garden(private, answer="yes").status_code == 200

    seen = verified_partner.get(f"/api/v1/listings/{garden}/interest")
    assert seen.status_code == 200
    assert seen.json["interest"]["yes"] == 2 and seen.json["interest"]["suggested"] == 2
    assert [(c["display_name"], c["email"]) for c in seen.json["contacts"]] == [
        ("Sam", "share@example.org")
    ]
    by_coordinator = coordinator.get(f"/api/v1/listings/{garden}/interest").json
    assert by_coordinator["interest"]["yes"] == 2 and by_coordinator["contacts"] == []
    assert other_partner.get(f"/api/v1/listings/{garden}/interest").status_code == 404
    assert sharer.get(f"/api/v1/listings/{garden}/interest").status_code == 403


def test_contact_goes_only_with_a_yes(app, kindred, catalogue, ann):
    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    suggestion = ann.get("/api/v1/members/me/suggestions").json["groups"][0]
    response = ann.post(
        f"/api/v1/suggestions/{suggestion['id']}/response",
        json={"answer": "later", "share_contact": True},
    )
    assert response.status_code == 422 and "share_contact" in response.json["errors"]


def test_a_job_left_in_no_queue_is_put_back_by_the_sweep(app, kindred, catalogue, ann):
    """A worker killed between taking a job and marking it started leaves it queued in name
    only: RQ's own clean-up then drops it without a retry."""
    asked = ann.post("/api/v1/members/me/match-requests")
    matching = queue("matching", kindred.redis)
    (orphan,) = matching.job_ids
    matching.remove(orphan)  # what such a worker leaves behind: the job, in no list
    _age_events(kindred, seconds=120)
    assert sweep_outbox()["revived"] == 1
    assert matching.job_ids == [orphan]
    assert sweep_outbox()["revived"] == 0  # queued again: left alone
    run_worker(kindred)
    assert ann.get(asked.headers["Location"]).json["status"] == "done"


def test_open_suggestions_unanswered_for_three_weeks_expire_but_later_ones_stay(
    kindred, catalogue, ann
):
    from datetime import timedelta

    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    first, second, *_ = ann.get("/api/v1/members/me/suggestions").json["groups"]
    path = f"/api/v1/suggestions/{second['id']}/response"
    assert ann.post(path, json={"answer": "later"}).status_code == 200
    with kindred.uow() as uow:
        for suggestion in uow.session.scalars(sa.select(Suggestion)):
            suggestion.created_at -= timedelta(days=22)
        uow.commit()
    assert matching.expire_stale_suggestions(kindred) == 2  # the open ones; not "later"
    current = ann.get("/api/v1/members/me/suggestions").json["groups"]
    assert [s["id"] for s in current] == [second["id"]]
    assert first["id"] not in [s["id"] for s in current]
