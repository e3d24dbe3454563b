"""The coordinator dashboard: figures computed in SQL match the rows, actions go through the same
use cases as the API, and every page is for coordinators only."""

from __future__ import annotations

import mailbox
from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.adapters.orm import (
    Introduction,
    Listing,
    Member,
    Notification,
    OutboxEvent,
    Suggestion,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from service.domain.credentials import Principal, Role
from service.services import dashboard
from service.services.dashboard import week_start
from tests.integration.api.conftest import run_worker
from tests.integration.pages.conftest import PageClient, text_of
from workers import health
from workers.queues import MAINTENANCE, queue
from workers.scheduler import build_scheduler
from workers.worker import build_worker

DASHBOARD_PAGES = [
    "/dashboard",
    "/dashboard/review",
    "/dashboard/coverage",
    "/dashboard/quiet",
    "/dashboard/organizations",
    "/dashboard/jobs",
]


def add_member(session, n: int, **columns) -> Member:
    defaults = {
        "display_name": f"Member {n}",
        "email": f"m{n}@example.org",
        "token_hash": f"hash-{n}",
        "consent_matching": True,
        "lat": 51.46,
        "lon": -2.59,
        "area": "Easton",
    }
    member = Member(**{**defaults, **columns})
    session.add(member)
    session.flush()
    return member


def add_listing(session, organization_id: int, title: str, **columns) -> Listing:
    defaults = {
        "organization_id": organization_id,
        "kind": "club",
        "direction": "receive",
        "title": title,
        "description": "A test listing.",
        "lat": 51.46,
        "lon": -2.59,
        "area": "Easton",
        "group_size": "medium",
        "structure": "mixed",
        "pace": "moderate",
        "status": "active",
        "status_changed_by": "coordinator:1",
    }
    listing = Listing(**{**defaults, **columns})
    session.add(listing)
    session.flush()
    return listing


def suggest(session, member, listing, score=0.8, status="open", created_at=None, answered=None):
    now = utcnow()
    session.add(
        Suggestion(
            member_id=member.id,
            kind="group",
            target=f"listing:{listing.id}",
            listing_id=listing.id,
            cycle=f"c{(created_at or now).timestamp():.0f}"[-10:],
            score=score,
            status=status,
            created_at=created_at or now,
            answered_at=answered,
        )
    )


@pytest.fixture
def coordinator_caller(coordinator_account) -> Principal:
    return Principal(Role.COORDINATOR, coordinator_account.coordinator.id)


def test_every_dashboard_page_is_for_coordinators_only(app, coordinator_page, partner_page):
    signed_out = PageClient(app)
    for path in DASHBOARD_PAGES:
        assert coordinator_page.get(path).status_code == 200, path
        assert partner_page.get(path).status_code == 403, path
        response = signed_out.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/dashboard/login")


def test_overview_counts_what_the_rows_say(kindred, organization, coordinator_caller):
    org, _ = organization
    now = utcnow()
    last_week = week_start(now) - timedelta(days=3)
    with kindred.uow() as uow:
        s = uow.session
        # Good matches lately: members 0 and 1 (as the matching job records it), and 3 long ago.
        members = [add_member(s, n) for n in range(4)]
        for member in members[:2]:
            member.last_good_match_at = now
        members[3].last_good_match_at = now - timedelta(weeks=6)
        add_member(s, 9, consent_matching=False)
        garden = add_listing(s, org.id, "Garden club")
        add_listing(s, org.id, "Waiting", status="pending_review")
        suggest(s, members[0], garden, status="yes", answered=now)
        suggest(s, members[1], garden, status="no", answered=now)
        suggest(s, members[2], garden, status="yes", answered=now, score=0.3)
        suggest(s, members[3], garden, created_at=last_week)  # an earlier week
        s.add(
            Introduction(
                member_low_id=members[0].id,
                member_high_id=members[1].id,
                status="introduced",
                introduced_at=now,
            )
        )
        s.add(
            Notification(
                member_id=members[0].id,
                kind="matches_ready",
                subject="x",
                cycle="c",
                title="t",
                body="b",
            )
        )
        uow.commit()
    summary = dashboard.overview(kindred.uow(), coordinator_caller, now=now)
    figures = summary.figures
    assert figures["active_listings"] == 1 and figures["pending_review"] == 1
    assert figures["members"] == 5 and figures["members_matching"] == 4
    assert figures["suggestions_this_week"] == 3
    assert figures["yes_this_week"] == 2 and figures["no_this_week"] == 1
    assert figures["acceptance_rate"] == pytest.approx(2 / 3)
    assert figures["introductions_this_week"] == 1
    assert figures["notifications_this_week"] == 1
    # members[2] only had a weak suggestion, and members[3] a good one too long ago.
    assert figures["without_good_match"] == 2
    assert summary.weekly["suggestions made"][-1] == 3
    assert summary.weekly["suggestions made"][-2] == 1
    assert summary.weekly["said yes"][-1] == 2
    assert len(summary.week_labels) == dashboard.WEEKS_SHOWN


def test_overview_page_shows_figures_and_accessible_svg_charts(kindred, coordinator_page):
    page = text_of(coordinator_page.get("/dashboard"))
    assert page.count('<svg class="chart"') == 2
    assert "<title" in page and "<desc" in page  # charts are named for screen readers
    assert "Suggestions and answers per week" in page
    assert "The numbers behind" in page  # the same data as a table
    assert "Waiting in matching" in page


def test_approving_a_listing_puts_it_live_and_tells_the_partner(
    kindred, organization, coordinator_page
):
    org, _ = organization
    with kindred.uow() as uow:
        listing_id = add_listing(uow.session, org.id, "Repair cafe", status="pending_review").id
        uow.commit()
    assert "Repair cafe" in text_of(coordinator_page.get("/dashboard/review"))
    response = coordinator_page.post(f"/dashboard/review/{listing_id}", {"decision": "approve"})
    assert response.status_code == 302
    with kindred.uow() as uow:
        assert uow.listings.get(listing_id).status.value == "active"
    run_worker(kindred)
    [message] = list(mailbox.Maildir(kindred.settings.var_dir / "mail", create=False))
    assert message["To"] == "team@garden.example"
    assert "approved" in message["Subject"]


def test_rejecting_needs_a_reason_which_the_partner_receives(
    kindred, organization, coordinator_page
):
    org, _ = organization
    with kindred.uow() as uow:
        listing_id = add_listing(uow.session, org.id, "Vague club", status="pending_review").id
        uow.commit()
    coordinator_page.get("/dashboard/review")
    refused = coordinator_page.post(f"/dashboard/review/{listing_id}", {"decision": "reject"})
    assert refused.status_code == 422
    assert "say why" in text_of(refused)
    with kindred.uow() as uow:
        assert uow.listings.get(listing_id).status.value == "pending_review"
    coordinator_page.post(
        f"/dashboard/review/{listing_id}",
        {"decision": "reject", "reason": "Please say where it meets."},
    )
    with kindred.uow() as uow:
        listing = uow.listings.get(listing_id)
        assert listing.status.value == "draft"
        assert listing.review_note == "Please say where it meets."
    run_worker(kindred)
    [message] = list(mailbox.Maildir(kindred.settings.var_dir / "mail", create=False))
    assert "Please say where it meets." in message.get_payload(decode=True).decode()


def test_the_review_reaches_the_partner_once_even_if_the_event_runs_twice(
    kindred, organization, coordinator_page
):
    org, _ = organization
    with kindred.uow() as uow:
        listing_id = add_listing(uow.session, org.id, "Choir", status="pending_review").id
        uow.commit()
    coordinator_page.get("/dashboard/review")
    coordinator_page.post(f"/dashboard/review/{listing_id}", {"decision": "approve"})
    run_worker(kindred)
    with kindred.uow() as uow:
        event = uow.session.scalar(
            sa.select(OutboxEvent).where(OutboxEvent.kind == "ListingApproved")
        )
        assert event.handled_at is not None
        event_id = event.id
    from service.services.events import handle

    assert handle(kindred, event_id) == "already handled"
    assert len(list(mailbox.Maildir(kindred.settings.var_dir / "mail", create=False))) == 1


def test_coverage_finds_start_slowly_members_with_nothing_low_key_in_reach(
    kindred, organization, coordinator_caller, coordinator_page
):
    org, _ = organization
    with kindred.uow() as uow:
        s = uow.session
        add_listing(s, org.id, "Quiet knitting", group_size="small", pace="low_key")
        # Near the knitting group (~0.5 km): served.
        add_member(s, 1, start_slowly=True, lat=51.464, lon=-2.59)
        # ~20 km away, with a 5 km reach: nothing low-key for them.
        add_member(s, 2, start_slowly=True, lat=51.64, lon=-2.59, area="Thornbury")
        add_member(s, 3, start_slowly=False, lat=51.64, lon=-2.59, area="Thornbury")
        s.flush()
        from service.adapters.orm import ListingTag, MemberTag

        s.add_all([MemberTag(member_id=m, kind="interest", tag="chess") for m in (1, 2, 3)])
        s.add(ListingTag(listing_id=1, kind="interest", tag="knitting"))
        uow.commit()
    gaps = dashboard.coverage(kindred.uow(), coordinator_caller)
    assert gaps.start_slowly_total == 2
    assert gaps.start_slowly_unserved == 1
    thornbury = next(row for row in gaps.areas if row["area"] == "Thornbury")
    assert thornbury["start_slowly_unserved"] == 1 and thornbury["listings"] == 0
    chess = next(gap for gap in gaps.interests if gap.name == "chess")
    assert (chess.members, chess.listings) == (3, 0)
    assert len(gaps.cells) == 2  # two ~2 km cells: Easton and Thornbury
    page = text_of(coordinator_page.get("/dashboard/coverage"))
    assert "grid-map" in page and "Thornbury" in page and "chess" in page


def test_quiet_list_shows_only_members_who_agreed_to_be_contacted(
    kindred, coordinator_caller, coordinator_page
):
    long_ago = utcnow() - timedelta(weeks=6)
    with kindred.uow() as uow:
        s = uow.session
        add_member(
            s,
            1,
            display_name="Quiet Consenting",
            consent_coordinator_contact=True,
            last_active_at=long_ago,
        )
        add_member(s, 2, display_name="Quiet Private", last_active_at=long_ago)
        add_member(s, 3, display_name="Active Consenting", consent_coordinator_contact=True)
        uow.commit()
    members, total = dashboard.quiet_members(kindred.uow(), coordinator_caller, weeks=4)
    assert total == 1 and [m["display_name"] for m in members] == ["Quiet Consenting"]
    assert dashboard.quiet_members(kindred.uow(), coordinator_caller, weeks=8)[1] == 0
    page = text_of(coordinator_page.get("/dashboard/quiet?weeks=4"))
    assert "Quiet Consenting" in page and "m1@example.org" in page
    assert "Quiet Private" not in page and "Active Consenting" not in page


def test_activity_keeps_a_member_off_the_quiet_list_without_refitting(kindred, app):
    from service.services.matching import request_matches

    with kindred.uow() as uow:
        member = add_member(
            uow.session,
            1,
            consent_coordinator_contact=True,
            last_active_at=utcnow() - timedelta(weeks=6),
        )
        uow.commit()
        member_id, updated_at = member.id, member.updated_at
    request_matches(kindred.uow(), Principal(Role.MEMBER, member_id))
    with kindred.uow() as uow:
        member = uow.members.get(member_id)
        assert utcnow() - member.last_active_at < timedelta(minutes=1)
        assert member.updated_at == updated_at  # not a profile change: no matcher refit


def test_organization_rates_and_keys(kindred, organization, coordinator_caller, coordinator_page):
    org, _ = organization
    with kindred.uow() as uow:
        s = uow.session
        members = [add_member(s, n) for n in range(4)]
        walk = add_listing(s, org.id, "Walk", capacity=10)
        for member, status in zip(members, ["yes", "yes", "no", "open"], strict=True):
            suggest(s, member, walk, status=status, answered=utcnow())
        uow.commit()
    [row] = dashboard.organizations_report(kindred.uow(), coordinator_caller)
    assert (row["suggested"], row["yes"], row["no"]) == (4, 2, 1)
    assert row["acceptance_rate"] == pytest.approx(2 / 3)
    assert row["fill_rate"] == pytest.approx(0.2)
    assert "67%" in text_of(coordinator_page.get("/dashboard/organizations"))
    issued = coordinator_page.post(f"/dashboard/organizations/{org.id}/keys", {"label": "site"})
    assert issued.status_code == 201
    secret = text_of(issued).split("<code>kp_", 1)[1].split("</code>", 1)[0]
    api = coordinator_page.client
    ok = api.get("/api/v1/listings", headers={"Authorization": f"Bearer kp_{secret}"})
    assert ok.status_code == 200
    with kindred.uow() as uow:
        key_id = max(key.id for key in uow.organizations.get(org.id).api_keys)
    coordinator_page.get(f"/dashboard/organizations/{org.id}")
    coordinator_page.post(f"/dashboard/organizations/{org.id}/keys/{key_id}")
    refused = api.get("/api/v1/listings", headers={"Authorization": f"Bearer kp_{secret}"})
    assert refused.status_code == 401


def test_registering_an_organization_shows_its_first_key_once(kindred, coordinator_page):
    coordinator_page.get("/dashboard/organizations")
    response = coordinator_page.post(
        "/dashboard/organizations",
        {"name": "Book Circle", "contact_email": "books@example.org"},
    )
    assert response.status_code == 201 and "copy it now" in text_of(response)
    again = coordinator_page.get("/dashboard/organizations")
    assert "Book Circle" in text_of(again) and "kp_" not in text_of(again)
    duplicate = coordinator_page.post(
        "/dashboard/organizations",
        {"name": "Book Circle", "contact_email": "books@example.org"},
    )
    assert duplicate.status_code == 409 and "already taken" in text_of(duplicate)
    invalid = coordinator_page.post(
        "/dashboard/organizations", {"name": "X", "contact_email": "not an email"}
    )
    assert invalid.status_code == 422
    assert 'aria-invalid="true"' in text_of(invalid)


def _fail_a_job(kindred) -> str:
    job = queue(MAINTENANCE, kindred.redis).enqueue("json.loads", "not json")
    run_worker(kindred)
    return job.id


def test_failed_jobs_are_listed_and_retried_one_or_all(kindred, coordinator_page):
    first, second = _fail_a_job(kindred), _fail_a_job(kindred)
    page = text_of(coordinator_page.get("/dashboard/jobs"))
    assert first in page and second in page and "JSONDecodeError" in page
    coordinator_page.post("/dashboard/jobs/retry", {"job_id": first})
    failed = queue(MAINTENANCE, kindred.redis).failed_job_registry
    assert failed.get_job_ids() == [second]
    assert queue(MAINTENANCE, kindred.redis).get_job_ids() == [first]
    coordinator_page.get("/dashboard/jobs")
    coordinator_page.post("/dashboard/jobs/retry", {"all": "yes"})
    assert failed.count == 0
    assert sorted(queue(MAINTENANCE, kindred.redis).get_job_ids()) == sorted([first, second])


def test_jobs_page_tells_live_workers_and_the_scheduler(kindred, coordinator_page):
    assert "nothing running" in text_of(coordinator_page.get("/dashboard/jobs"))
    worker = build_worker(kindred.redis, name="kindred-test-worker")
    worker.register_birth()
    scheduler = build_scheduler(kindred.redis)
    try:
        worker.heartbeat()
        page = text_of(coordinator_page.get("/dashboard/jobs"))
        assert "kindred-test-worker" in page and "alive" in page
        assert "no scheduler" in page
        scheduler.register_birth()
        scheduler.heartbeat()
        page = text_of(coordinator_page.get("/dashboard/jobs"))
        assert "kindred-scheduler" in page and "no scheduler" not in page
        [seen] = [p for p in health.processes(kindred.redis) if p.kind == "scheduler"]
        assert seen.alive and seen.last_heartbeat is not None
    finally:
        worker.register_death()
        scheduler.register_death()


def _approve_and_find_event(kindred, organization, coordinator_page, title="Book swap"):
    org, _ = organization
    with kindred.uow() as uow:
        listing_id = add_listing(uow.session, org.id, title, status="pending_review").id
        uow.session.add(
            WebhookEndpoint(
                organization_id=org.id, url="https://hooks.example/k", secret="whsec_test"
            )
        )
        uow.commit()
    coordinator_page.get("/dashboard/review")
    coordinator_page.post(f"/dashboard/review/{listing_id}", {"decision": "approve"})
    with kindred.uow() as uow:
        event_id = uow.session.scalar(
            sa.select(OutboxEvent.id).where(OutboxEvent.kind == "ListingApproved")
        )
        endpoint_id = uow.session.scalar(sa.select(WebhookEndpoint.id))
    return listing_id, event_id, endpoint_id


def test_the_review_webhook_is_queued_even_beside_a_similar_message_id(
    kindred, organization, coordinator_page
):
    """msg_<event>0_<endpoint> (a later event's delivery) is not this event's delivery."""
    from service.services.events import handle

    listing_id, event_id, endpoint_id = _approve_and_find_event(
        kindred, organization, coordinator_page
    )
    with kindred.uow() as uow:
        uow.session.add(
            WebhookDelivery(
                endpoint_id=endpoint_id,
                message_id=f"msg_{event_id}0_{endpoint_id}",
                payload={"type": "listing.interest"},
            )
        )
        uow.commit()
    assert handle(kindred, event_id) == "approved"
    with kindred.uow() as uow:
        delivery = uow.session.scalar(
            sa.select(WebhookDelivery).where(
                WebhookDelivery.message_id == f"msg_{event_id}_{endpoint_id}"
            )
        )
        assert delivery.payload == {
            "type": "listing.reviewed",
            "data": {"listing_id": listing_id, "approved": True},
        }


def test_the_partner_hears_the_decision_made_even_if_the_listing_changed_since(
    kindred, organization, coordinator_page
):
    from service.services.events import handle

    listing_id, event_id, _ = _approve_and_find_event(kindred, organization, coordinator_page)
    with kindred.uow() as uow:  # the partner pauses it before the notification job runs
        uow.listings.get(listing_id).status = "paused"
        uow.commit()
    assert handle(kindred, event_id) == "approved"
    [message] = list(mailbox.Maildir(kindred.settings.var_dir / "mail", create=False))
    assert "was approved" in message["Subject"]


def test_fill_counts_places_listing_by_listing_over_listings_that_were_live(
    kindred, organization, coordinator_caller
):
    org, _ = organization
    with kindred.uow() as uow:
        s = uow.session
        members = [add_member(s, n) for n in range(3)]
        full = add_listing(s, org.id, "Full", capacity=2)
        add_listing(s, org.id, "Empty", capacity=2)
        add_listing(s, org.id, "Not live yet", capacity=10, status="pending_review")
        for member in members:
            suggest(s, member, full, status="yes", answered=utcnow())
        # The same member suggested the same listing again in a later week: one member.
        suggest(s, members[0], full, status="expired", created_at=utcnow() - timedelta(days=8))
        uow.commit()
    [row] = dashboard.organizations_report(kindred.uow(), coordinator_caller)
    assert row["suggested"] == 3 and row["yes"] == 3
    # 3 said yes to 2 places: 2 taken of the 4 places live listings offer.
    assert row["fill_rate"] == pytest.approx(0.5)
    rows = {
        r["title"]: r
        for r in dashboard.organization_listings(kindred.uow(), coordinator_caller, org.id)
    }
    assert rows["Full"]["fill_rate"] == 1.0 and rows["Empty"]["fill_rate"] == 0.0


def test_a_key_label_too_long_is_a_clear_422_not_a_crash(organization, coordinator_page):
    org, _ = organization
    coordinator_page.get(f"/dashboard/organizations/{org.id}")
    response = coordinator_page.post(f"/dashboard/organizations/{org.id}/keys", {"label": "x" * 81})
    assert response.status_code == 422 and "label" in text_of(response)
