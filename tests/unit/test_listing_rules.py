"""The listing life-cycle rules, without any database."""

from __future__ import annotations

import pytest

from service.domain import listings as rules
from service.domain.errors import InvalidTransition, RuleViolation
from service.domain.vocabulary import ListingStatus as S


@pytest.mark.parametrize(
    ("requested", "verified", "expected"),
    [
        (None, False, S.PENDING_REVIEW),
        (None, True, S.ACTIVE),
        (S.DRAFT, True, S.DRAFT),
        (S.PENDING_REVIEW, True, S.ACTIVE),
        (S.ACTIVE, False, S.PENDING_REVIEW),  # asking for active never skips review
    ],
)
def test_initial_status(requested, verified, expected):
    assert rules.initial_status(requested, verified) is expected


@pytest.mark.parametrize("requested", [S.PAUSED, S.CLOSED])
def test_a_new_listing_cannot_start_paused_or_closed(requested):
    with pytest.raises(RuleViolation) as raised:
        rules.initial_status(requested, True)
    assert "status" in raised.value.errors


@pytest.mark.parametrize(
    ("current", "requested", "verified", "expected"),
    [
        (S.DRAFT, S.PENDING_REVIEW, False, S.PENDING_REVIEW),
        (S.DRAFT, S.ACTIVE, False, S.PENDING_REVIEW),
        (S.DRAFT, S.ACTIVE, True, S.ACTIVE),
        (S.PENDING_REVIEW, S.DRAFT, False, S.DRAFT),
        (S.ACTIVE, S.PAUSED, False, S.PAUSED),
        (S.PAUSED, S.ACTIVE, False, S.ACTIVE),
        (S.ACTIVE, S.CLOSED, False, S.CLOSED),
        (S.ACTIVE, S.ACTIVE, False, S.ACTIVE),
    ],
)
def test_partner_transitions(current, requested, verified, expected):
    assert rules.partner_transition(current, requested, verified) is expected


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        (S.PENDING_REVIEW, S.ACTIVE),  # only a coordinator approves
        (S.DRAFT, S.PAUSED),
        (S.CLOSED, S.ACTIVE),
        (S.CLOSED, S.DRAFT),
    ],
)
def test_refused_transitions(current, requested):
    with pytest.raises(InvalidTransition):
        rules.partner_transition(current, requested, organization_verified=False)


def test_reviewed_field_edit_of_live_listing_needs_review_again_unless_verified():
    assert rules.status_after_edit(S.ACTIVE, {"title"}, False) is S.PENDING_REVIEW
    assert rules.status_after_edit(S.PAUSED, {"description"}, False) is S.PENDING_REVIEW
    assert rules.status_after_edit(S.ACTIVE, {"title"}, True) is S.ACTIVE
    assert rules.status_after_edit(S.ACTIVE, {"capacity"}, False) is S.ACTIVE
    assert rules.status_after_edit(S.DRAFT, {"title"}, False) is S.DRAFT
    with pytest.raises(InvalidTransition):
        rules.status_after_edit(S.CLOSED, {"capacity"}, True)


def test_review_outcome():
    assert rules.review_outcome(S.PENDING_REVIEW, approve=True) is S.ACTIVE
    assert rules.review_outcome(S.PENDING_REVIEW, approve=False) is S.DRAFT
    with pytest.raises(InvalidTransition):
        rules.review_outcome(S.ACTIVE, approve=True)


def test_in_person_needs_place_virtual_does_not():
    rules.check_place(True, None, None, None)
    rules.check_place(False, 51.4, -2.6, "Easton")
    with pytest.raises(RuleViolation) as raised:
        rules.check_place(False, None, None, "")
    assert set(raised.value.errors) == {"lat", "lon", "area"}


@pytest.mark.parametrize("is_virtual", [True, False])
def test_half_a_coordinate_is_refused_even_for_virtual_listings(is_virtual):
    with pytest.raises(RuleViolation) as raised:
        rules.check_place(is_virtual, 51.4, None, "Easton")
    assert set(raised.value.errors) == {"lon"}
