"""A partner's webhook target does not answer in time (it holds a request past kindred's 15 s
client timeout), then recovers: the delivery is retried with the same webhook-id, and each
delivery is answered 2xx exactly once."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from service.adapters.orm import WebhookDelivery
from tests.faults.conftest import (
    CONSENTING,
    Ledger,
    check_exactly_once,
    wait_for,
    wait_settled,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def deliveries(stack) -> list[WebhookDelivery]:
    with stack.kindred.uow() as uow:
        return uow.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def test_webhook_target_times_out_then_recovers(stack, webhook_target, figures):
    partner = stack.partner()
    created = partner.post(
        f"/api/v1/organizations/{partner.organization_id}/webhooks",
        json={"url": webhook_target.url},
    )
    assert created.status_code == 201, created.json
    listing_id, _ = stack.catalogue(partner)
    members = stack.members(2, **CONSENTING)
    stack.processes.worker()
    stack.processes.scheduler()
    ledger = Ledger()
    for member in members:
        assert ledger.ask(member).status_code == 202
    wait_for(lambda: len(ledger.accepted) == 2 and _all_done(stack, ledger), "matches", 60)

    webhook_target.hold = 1  # the first delivery's first attempt times out
    for member in members:
        (suggestion,) = [
            s
            for s in member.get("/api/v1/members/me/suggestions").json["groups"]
            if s["listing"]["id"] == listing_id
        ]
        answer = member.post(
            f"/api/v1/suggestions/{suggestion['id']}/response", json={"answer": "yes"}
        )
        assert answer.status_code == 200, answer.json

    wait_for(
        lambda: any(d.last_error == "ReadTimeout" for d in deliveries(stack)),
        "a delivery times out",
        60,
    )
    timed_out_at = time.monotonic()
    wait_settled(
        stack.kindred, ledger, "every webhook answered", webhook_ids=webhook_target.answered
    )
    figures.recovery_seconds = time.monotonic() - timed_out_at
    sent = deliveries(stack)
    assert len(sent) == 2 and all(d.status == "sent" for d in sent)
    assert sorted(d.attempts for d in sent) == [1, 2]
    for delivery in sent:  # every attempt reached the target, with the same webhook-id
        assert webhook_target.received[delivery.message_id] == delivery.attempts
    assert set(webhook_target.received) == {d.message_id for d in sent}
    figures.notes.append(
        f"{sum(webhook_target.received.values())} requests reached the target for "
        f"{len(sent)} deliveries; timed-out attempts carried the same webhook-id"
    )
    check_exactly_once(
        stack.kindred, ledger, figures, expect_results=2, webhook_ids=webhook_target.answered
    )


def _all_done(stack, ledger) -> bool:
    from service.adapters.orm import MatchRequest

    with stack.kindred.uow() as uow:
        return all(
            uow.session.get(MatchRequest, request_id).status.value == "done"
            for request_id in ledger.accepted.values()
        )
