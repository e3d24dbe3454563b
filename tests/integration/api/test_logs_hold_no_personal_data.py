"""Logs carry ids, never emails, names or free text: every log line of a full member's life, at
DEBUG, is read and searched for what the member told kindred."""

from __future__ import annotations

import logging

import pytest

from service.services import sign_in_links
from tests.integration.api.conftest import listing_body, run_worker, sign_up
from tests.integration.api.test_matches_pipeline import (  # noqa: F401 (fixtures)
    CONSENTING,
    answer,
    catalogue,
    jobs_use_this_service,
    peer_suggestion,
)

pytestmark = pytest.mark.usefixtures("catalogue")

PRIVATE = {
    "email": "quill.private@example.org",
    "display_name": "Annwen Quill",
    "interests_text": "After the funeral I stopped seeing anyone",
}


def test_a_full_flow_logs_no_personal_data(app, kindred, verified_partner, caplog):
    caplog.set_level(logging.DEBUG)
    ann = sign_up(app, **PRIVATE, **CONSENTING)
    bob = sign_up(app, email="bob.private@example.org", display_name="Bobbin Lark", **CONSENTING)
    bob.patch("/api/v1/members/me", json={"share_email_on_introduction": True})
    # Refused input that contains personal data is answered, not logged.
    bad = app.test_client().post(
        "/api/v1/members", json={"display_name": "Annwen Quill", "email": "quill.private@"}
    )
    assert bad.status_code == 422
    assert ann.patch("/api/v1/members/me", json={"timezone": PRIVATE["interests_text"]}).status_code
    # Matching, a double yes, the introduction emails, a sign-in link, a new listing's fan-out.
    for member in (ann, bob):
        member.post("/api/v1/members/me/match-requests")
    run_worker(kindred)
    answer(ann, peer_suggestion(ann), "yes")
    answer(bob, peer_suggestion(bob), "yes")
    ann.patch("/api/v1/members/me", json={"notify_channels": ["in_app", "email"]})
    run_worker(kindred)
    sign_in_links.request_link(kindred.uow(), PRIVATE["email"], kindred.redis)
    verified_partner.post("/api/v1/listings", json=listing_body(title="Evening walk"))
    run_worker(kindred)
    assert ann.get("/api/v1/members/me/export").status_code == 200
    assert ann.delete("/api/v1/members/me").status_code == 204
    run_worker(kindred)

    lines = [record.getMessage() for record in caplog.records]
    lines += [caplog.text]  # with tracebacks, as a handler formats them
    assert len(caplog.records) > 10, "the flow should have logged (workers, jobs)"
    secrets = [*PRIVATE.values(), ann.token, "bob.private@example.org", "Bobbin Lark"]
    for line in lines:
        for secret in secrets:
            assert secret not in line, f"{secret!r} logged: {line[:300]}"
