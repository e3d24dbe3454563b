"""Privacy: a withdrawn consent takes effect at once, export holds everything, erasure removes
the member from the database, the outbox, Redis and the fitted matcher, and retention lets go."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.adapters import redis_traces
from service.adapters.model_store import ModelStore
from service.adapters.orm import (
    ConsentRecord,
    Introduction,
    JobFailure,
    MatchRequest,
    Member,
    MemberTag,
    Notification,
    OutboxEvent,
    Suggestion,
    WeeklyRound,
    utcnow,
)
from service.adapters.publisher import job_id
from service.domain.vocabulary import IntroductionStatus
from service.matching import persistence
from service.services import matching, privacy, sign_in_links
from tests.integration.api.conftest import run_worker, sign_up
from tests.integration.api.test_matches_pipeline import (  # noqa: F401 (fixtures)
    CONSENTING,
    answer,
    catalogue,
    jobs_use_this_service,
    peer_suggestion,
)
from workers.queues import ALL_QUEUES, queue

pytestmark = pytest.mark.usefixtures("catalogue")

ANN = {"email": "ann.private@example.org", "display_name": "Annwen Quill"}
ANN_TEXT = "I moved here after my divorce and know nobody yet"


@pytest.fixture
def ann(app):
    return sign_up(app, interests_text=ANN_TEXT, **ANN, **CONSENTING)


@pytest.fixture
def bob(app):
    return sign_up(app, email="bob@example.org", display_name="Bob", **CONSENTING)


def introduce_halfway(kindred, ann, bob) -> None:
    """Both are suggested to each other; Ann says yes, Bob has not answered."""
    for member in (ann, bob):
        assert member.post("/api/v1/members/me/match-requests").status_code == 202
    run_worker(kindred)
    answer(ann, peer_suggestion(ann), "yes")
    run_worker(kindred)


def introduction_status(kindred) -> IntroductionStatus:
    with kindred.uow() as uow:
        return uow.session.scalar(sa.select(Introduction.status))


# ---------------------------------------------------------------- consent


def test_withdrawing_peer_consent_cancels_at_once(kindred, ann, bob):
    introduce_halfway(kindred, ann, bob)
    assert introduction_status(kindred) is IntroductionStatus.PENDING
    assert bob.get("/api/v1/members/me/suggestions").json["peers"]

    withdrawn = bob.put(
        "/api/v1/members/me/consents", json={"matching": True, "peer_introductions": False}
    )
    assert withdrawn.status_code == 200
    # No worker has run: the withdrawal itself closed the introduction and the suggestions.
    assert introduction_status(kindred) is IntroductionStatus.CLOSED
    assert bob.get("/api/v1/members/me/suggestions").json["peers"] == []
    assert ann.get("/api/v1/members/me/suggestions").json["peers"] == []
    history = bob.get("/api/v1/members/me/export").json["consent_history"]
    assert history[-1]["purpose"] == "peer_introductions" and history[-1]["granted"] is False
    assert history[-1]["recorded_at"]


def test_a_matcher_fitted_before_a_withdrawal_cannot_suggest_the_member(kindred, ann, bob):
    """The race: the worker computed peers just before Bob withdrew. Storing them checks the
    database, so Bob is not suggested."""
    asked = ann.post("/api/v1/members/me/match-requests").json["id"]
    with kindred.uow() as uow:
        fitted = kindred.matchers.get(uow.session)
        profile = matching.profile_record(uow.members.get(ann.member_id))
        peers = fitted.peer.recommend(profile, k=matching.PEER_SUGGESTIONS)
    assert [p.member_id for p in peers] == [bob.member_id]

    bob.put("/api/v1/members/me/consents", json={"matching": True, "peer_introductions": False})
    with kindred.uow() as uow:
        event_id = uow.session.scalar(
            sa.select(OutboxEvent.id).where(OutboxEvent.subject == f"match_request:{asked}")
        )
        matching._store_answer(uow, event_id, asked, [], peers)
    assert ann.get("/api/v1/members/me/suggestions").json["peers"] == []


def test_withdrawing_matching_consent_clears_every_open_suggestion(kindred, ann):
    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    assert ann.get("/api/v1/members/me/suggestions").json["groups"]
    ann.put("/api/v1/members/me/consents", json={"matching": False, "peer_introductions": False})
    assert ann.get("/api/v1/members/me/suggestions").json == {"groups": [], "peers": []}


def test_a_match_running_when_matching_consent_is_withdrawn_stores_nothing(kindred, ann):
    """The worker fitted and scored before the withdrawal; storing the answer checks again, and
    the suggestions the withdrawal expired do not come back."""
    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    assert ann.get("/api/v1/members/me/suggestions").json["groups"]
    asked = ann.post("/api/v1/members/me/match-requests").json["id"]
    with kindred.uow() as uow:
        fitted = kindred.matchers.get(uow.session)
        profile = matching.profile_record(uow.members.get(ann.member_id))
        groups = fitted.group.recommend(profile, k=matching.GROUP_SUGGESTIONS)
    assert groups

    ann.put("/api/v1/members/me/consents", json={"matching": False, "peer_introductions": False})
    with kindred.uow() as uow:
        event_id = uow.session.scalar(
            sa.select(OutboxEvent.id).where(OutboxEvent.subject == f"match_request:{asked}")
        )
        matching._store_answer(uow, event_id, asked, groups, [])
    assert ann.get("/api/v1/members/me/suggestions").json == {"groups": [], "peers": []}


# ---------------------------------------------------------------- export


def test_export_holds_everything_kindred_keeps(kindred, ann, bob):
    bob.patch("/api/v1/members/me", json={"share_email_on_introduction": True})
    introduce_halfway(kindred, ann, bob)
    answer(bob, peer_suggestion(bob), "yes")
    run_worker(kindred)

    export = ann.get("/api/v1/members/me/export").json
    assert export["profile"]["interests_text"] == ANN_TEXT
    assert [r["status"] for r in export["match_requests"]] == ["done"]
    kinds = {s["kind"] for s in export["suggestions"]}
    assert kinds == {"group", "peer"}
    (peer,) = [s for s in export["suggestions"] if s["kind"] == "peer"]
    assert peer["status"] == "yes" and peer["answered_at"]
    assert export["introductions"][0]["peer"] == {"display_name": "Bob", "email": "bob@example.org"}
    assert "introduction" in {n["kind"] for n in export["notifications"]}
    # Nothing of Bob's own beyond what he chose to share.
    assert "bob@example.org" not in str(export["suggestions"])
    with kindred.uow() as uow:
        for model in (MatchRequest, Suggestion, Notification, WeeklyRound):
            count = uow.session.scalar(
                sa.select(sa.func.count()).where(model.member_id == ann.member_id)
            )
            exported = {
                MatchRequest: "match_requests",
                Suggestion: "suggestions",
                Notification: "notifications",
                WeeklyRound: "weekly_rounds",
            }[model]
            assert len(export[exported]) == count, model.__name__


# ---------------------------------------------------------------- erasure


def redis_dump(connection) -> bytes:
    """Every key and every value in Redis, as one blob to search."""
    blob = []
    for key in connection.scan_iter("*"):
        blob.append(key)
        kind = connection.type(key)
        if kind == b"string":
            blob.append(connection.get(key) or b"")
        elif kind == b"hash":
            blob += [b"%s=%s" % pair for pair in connection.hgetall(key).items()]
        elif kind == b"list":
            blob += connection.lrange(key, 0, -1)
        elif kind == b"set":
            blob += list(connection.smembers(key))
        elif kind == b"zset":
            blob += connection.zrange(key, 0, -1)
    return b"\n".join(blob)


def jobs_anywhere(connection, job_ids: list[str]) -> list[str]:
    found = []
    for name in ALL_QUEUES:
        q = queue(name, connection)
        listed = {j.decode() for j in connection.lrange(q.key, 0, -1)}
        for registry in redis_traces.REGISTRIES:
            listed |= {j.decode() for j in connection.zrange(registry(queue=q).key, 0, -1)}
        found += [j for j in job_ids if j in listed]
    return found + [j for j in job_ids if connection.exists(f"rq:job:{j}")]


def test_erasure_removes_the_member_from_the_database_outbox_redis_and_matcher(
    app, kindred, ann, bob
):
    redis = kindred.redis
    # A full life: matched (finished jobs), half-introduced, an idempotent sign-up kept,
    # a sign-in link asked for, counters, and work still queued when the erasure comes.
    introduce_halfway(kindred, ann, bob)
    answer(bob, peer_suggestion(bob), "yes")
    run_worker(kindred)
    keyed = app.test_client().post(
        "/api/v1/members",
        json={"display_name": "Again", "email": "ann.second@example.org"},
        headers={"Idempotency-Key": "erase-me-too"},
    )
    assert keyed.status_code == 201
    sign_in_links.request_link(kindred.uow(), ANN["email"], redis)
    ann.patch("/api/v1/members/me", json={"area": "Easton"})
    ann.post("/api/v1/members/me/match-requests")  # queued, not run

    with kindred.uow() as uow:
        fitted = kindred.matchers.get(uow.session)
        assert ann.member_id in set(fitted.peer.member_ids_)
        traces = privacy.traces_of(uow, ann.member_id)
        uow.session.add(
            JobFailure(
                job_id=job_id(traces.event_ids[0]), queue="matching", function="f", error="e"
            )
        )
        uow.commit()
    ann_jobs = [job_id(e) for e in traces.event_ids]
    assert jobs_anywhere(redis, ann_jobs)  # queued and finished jobs exist before

    assert ann.delete("/api/v1/members/me").status_code == 204

    with kindred.uow() as uow:
        session = uow.session
        assert session.get(Member, ann.member_id) is None
        for _model, column in (
            (MemberTag, MemberTag.member_id),
            (ConsentRecord, ConsentRecord.member_id),
            (MatchRequest, MatchRequest.member_id),
            (Suggestion, Suggestion.member_id),
            (Suggestion, Suggestion.peer_id),
            (Notification, Notification.member_id),
            (WeeklyRound, WeeklyRound.member_id),
        ):
            assert not session.scalar(sa.select(sa.func.count()).where(column == ann.member_id))
        assert not session.scalar(sa.select(sa.func.count()).select_from(Introduction))
        assert not session.scalar(
            sa.select(sa.func.count()).where(OutboxEvent.id.in_(traces.event_ids))
        )
        # The erasure's own event: her id only, and (SQLite too) an id no deleted event had.
        assert session.scalars(
            sa.select(OutboxEvent.subject).where(OutboxEvent.kind == "MemberErased")
        ).all() == [f"member:{ann.member_id}"]
        assert not session.scalar(sa.select(sa.func.count()).select_from(JobFailure))
        # Bob's "you were introduced" notice named Ann: gone with her.
        bobs = session.scalars(
            sa.select(Notification.body).where(Notification.member_id == bob.member_id)
        ).all()
        assert not any("Annwen" in body for body in bobs)
        before_erasure = fitted.fingerprint

    # MemberErased: a worker refits her region's model now; the file saved before, which holds
    # her, is deleted; what is left on disk is a model without her.
    run_worker(kindred)
    store = ModelStore(kindred.settings.models_folder, None)
    assert not store.path(None, before_erasure).exists()
    (saved,) = kindred.settings.models_folder.rglob("*.pkl")
    with kindred.uow() as uow:
        held = kindred.matchers.get(uow.session)
    for fitted in (persistence.load(saved), held):
        assert ann.member_id not in set(fitted.peer.member_ids_)
        assert ann.member_id not in set(fitted.members.member_ids)

    assert jobs_anywhere(redis, ann_jobs) == []
    everything = redis_dump(redis)
    for secret in (ann.token, ANN["email"], ANN["display_name"], ANN_TEXT):
        assert secret.encode() not in everything
    assert f"member:{ann.member_id}/".encode() not in everything  # rate-limit counters
    assert not redis.exists(redis_traces.answers_index(f"member:{ann.member_id}"))
    assert not redis.exists(redis_traces.SIGN_IN_COOLDOWN.format(member_id=ann.member_id))
    # Bob is untouched, and the pipeline runs on without errors.
    run_worker(kindred)
    assert bob.get("/api/v1/members/me").status_code == 200
    with kindred.uow() as uow:
        assert not uow.session.scalar(sa.select(sa.func.count()).select_from(JobFailure))


def test_erasure_without_redis_erases_nothing_and_says_so(settings, kindred):
    import dataclasses

    from service.app import create_app
    from service.bootstrap import bootstrap

    offline = bootstrap(dataclasses.replace(settings, redis_url="redis://127.0.0.1:9/0"))
    try:
        app = create_app(kindred=offline)
        member = sign_up(app, "ann@example.org")
        refused = member.delete("/api/v1/members/me")
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) > 0
        assert member.get("/api/v1/members/me").status_code == 200
    finally:
        offline.close()


# ---------------------------------------------------------------- retention


def test_retention_deletes_old_unanswered_suggestions_notifications_and_handled_events(
    kindred, ann
):
    ann.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    groups = ann.get("/api/v1/members/me/suggestions").json["groups"]
    answer(ann, groups[0], "no")
    run_worker(kindred)
    long_ago = utcnow() - timedelta(days=400)
    with kindred.uow() as uow:
        uow.session.execute(sa.update(Suggestion).values(created_at=long_ago))
        uow.session.execute(sa.update(Notification).values(created_at=long_ago))
        uow.session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.handled_at.is_not(None))
            .values(handled_at=long_ago)
        )
        unhandled = uow.session.scalar(
            sa.select(sa.func.count()).where(OutboxEvent.handled_at.is_(None))
        )
        uow.commit()

    deleted = privacy.apply_retention(kindred, kindred.settings.retention)

    assert deleted["suggestions"] == len(groups) - 1
    assert deleted["notifications"] >= 1 and deleted["events"] >= 1
    with kindred.uow() as uow:
        kept = uow.session.scalars(sa.select(Suggestion.status)).all()
        assert [s.value for s in kept] == ["no"]  # an answer stays: a "no" never comes back
        assert not uow.session.scalar(sa.select(sa.func.count()).select_from(Notification))
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == unhandled


def test_retention_is_configured_in_days(monkeypatch, tmp_path):
    from service.config import Settings

    monkeypatch.setenv("KINDRED_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("KINDRED_KEEP_SUGGESTIONS_DAYS", "30")
    monkeypatch.setenv("KINDRED_KEEP_NOTIFICATIONS_DAYS", "60")
    retention = Settings.from_env().retention
    assert retention.suggestions == timedelta(days=30)
    assert retention.notifications == timedelta(days=60)
    assert retention.handled_events == timedelta(days=30)
