"""Partner webhooks: endpoints an organization registers, and signed deliveries of events
about its listings (Standard Webhooks). Payloads carry ids and counts, never a member."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import sqlalchemy as sa

from service.adapters import webhook_http
from service.adapters.orm import Suggestion, WebhookDelivery, WebhookEndpoint, utcnow
from service.domain import webhook_signing
from service.domain.credentials import Principal
from service.domain.errors import NotFound, RuleViolation
from service.domain.events import EventKind, subject
from service.services import outbox
from service.services.organizations import visible_organization
from service.services.unit_of_work import UnitOfWork

GONE = 410  # the partner says the endpoint is retired: stop, do not retry


class DeliveryFailed(Exception):
    """A non-2xx answer or a network error: RQ retries the job with backoff."""


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str


def register(
    uow: UnitOfWork, caller: Principal, organization_id: int, url: str, allow_private: bool
) -> NewEndpoint:
    try:
        webhook_http.check_url(url, allow_private)
    except webhook_http.UnsafeTarget as error:
        raise RuleViolation("this URL cannot receive webhooks", {"url": [str(error)]}) from None
    with uow:
        visible_organization(uow, caller, organization_id)
        secret = webhook_signing.new_secret()
        endpoint = WebhookEndpoint(organization_id=organization_id, url=url, secret=secret)
        uow.session.add(endpoint)
        uow.commit()
        return NewEndpoint(endpoint, secret)


def endpoints(uow: UnitOfWork, caller: Principal, organization_id: int) -> list[WebhookEndpoint]:
    with uow:
        visible_organization(uow, caller, organization_id)
        return uow.session.scalars(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == organization_id)
            .order_by(WebhookEndpoint.id)
        ).all()


def remove(uow: UnitOfWork, caller: Principal, organization_id: int, endpoint_id: int) -> None:
    with uow:
        visible_organization(uow, caller, organization_id)
        endpoint = uow.session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint.organization_id != organization_id:
            raise NotFound("no such webhook")
        uow.session.delete(endpoint)
        uow.commit()


def queue_listing_interest(uow: UnitOfWork, suggestion: Suggestion, event_id: int) -> int:
    """In the answer handler's transaction: one delivery per active endpoint of the listing's
    organization, each with its own event (so each retries on its own)."""
    listing = suggestion.listing
    payload = {
        "type": "listing.interest",
        "data": {"listing_id": listing.id, "answer": suggestion.status.value},
    }
    return queue_for_organization(uow, listing.organization_id, payload, event_id)


def queue_for_organization(uow: UnitOfWork, organization_id: int, payload: dict, event_id: int):
    """One delivery of `payload` per active endpoint of the organization, in the caller's
    transaction; the message id is made from the causing event, so a re-run adds none."""
    active = uow.session.scalars(
        sa.select(WebhookEndpoint).where(
            WebhookEndpoint.organization_id == organization_id,
            WebhookEndpoint.active.is_(True),
        )
    ).all()
    for endpoint in active:
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id, message_id=f"msg_{event_id}_{endpoint.id}", payload=payload
        )
        uow.session.add(delivery)
        uow.flush()
        outbox.record(
            uow,
            EventKind.WEBHOOK_DUE,
            subject("webhook_delivery", delivery.id),
            dedupe_key=f"WebhookDue:{delivery.id}",
        )
    return len(active)


def deliver(kindred, event_id: int, delivery_id: int) -> str:
    with kindred.uow() as uow:
        delivery = uow.session.get(WebhookDelivery, delivery_id)
        endpoint = delivery and uow.session.get(WebhookEndpoint, delivery.endpoint_id)
        if delivery is None or endpoint is None or delivery.status == "sent" or not endpoint.active:
            outbox.mark_handled(uow, event_id)
            uow.commit()
            return "nothing to deliver"
        url, secret, message_id = endpoint.url, endpoint.secret, delivery.message_id
        body = json.dumps({**delivery.payload, "id": message_id}, sort_keys=True).encode()
        delivery.attempts += 1
        uow.commit()
    status, error = _post(kindred, url, secret, message_id, body)
    with kindred.uow() as uow:
        delivery = uow.session.get(WebhookDelivery, delivery_id)
        delivery.last_status_code, delivery.last_error = status, error
        if status is not None and 200 <= status < 300:
            delivery.status, delivery.delivered_at = "sent", utcnow()
        elif status == GONE:
            endpoint = uow.session.get(WebhookEndpoint, delivery.endpoint_id)
            endpoint.active, endpoint.disabled_reason = False, "the endpoint answered 410 Gone"
            delivery.status = "failed"
        else:
            uow.commit()
            raise DeliveryFailed(f"webhook answered {status}" if status else error)
        outbox.mark_handled(uow, event_id)
        uow.commit()
        return delivery.status


def _post(kindred, url, secret, message_id, body) -> tuple[int | None, str | None]:
    headers = webhook_signing.headers(secret, message_id, int(time.time()), body)
    try:
        response = webhook_http.post(url, body, headers, kindred.settings.webhook_allow_private)
    except webhook_http.UnsafeTarget as error:  # the name now resolves somewhere internal
        return None, f"unsafe target: {error}"
    except Exception as error:  # network trouble: retried
        return None, type(error).__name__
    return response.status_code, None


def delivery_failed(kindred, delivery_id: int, error: str) -> None:
    with kindred.uow(publish=False) as uow:
        delivery = uow.session.get(WebhookDelivery, delivery_id)
        if delivery is not None and delivery.status != "sent":
            delivery.status, delivery.last_error = "failed", error[:300]
            uow.commit()
