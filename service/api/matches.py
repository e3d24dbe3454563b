"""Matches: a member asks, the matching worker answers, the member says yes, no or later."""

from __future__ import annotations

from flask import url_for
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api.auth import ID, authenticated, current_caller, kindred
from service.api.fields import StrictSchema, boolean, enum, session_day
from service.api.idempotency import idempotent
from service.domain.credentials import Role
from service.domain.vocabulary import Answer, MatchRequestStatus, SuggestionKind, SuggestionStatus
from service.services import attendance, balance, introductions, matching, notifications

blp = Blueprint(
    "matches",
    __name__,
    url_prefix="/api/v1",
    description="Match requests, suggestions with reasons, answers, and the member's inbox",
)


class MatchRequestSchema(Schema):
    id = fields.Integer()
    status = enum(MatchRequestStatus)
    reason = fields.String(metadata={"description": "asked, profile or weekly"})
    requested_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    group_count = fields.Integer()
    peer_count = fields.Integer()
    error = fields.String(allow_none=True)


class ListingSummarySchema(Schema):
    id = fields.Integer()
    title = fields.String()
    kind = fields.String()
    area = fields.String(allow_none=True)
    is_virtual = fields.Boolean()
    organization_name = fields.String()


class AttendanceSchema(Schema):
    id = fields.Integer()
    listing = fields.Nested(ListingSummarySchema)
    session_on = fields.Date()
    recorded_by = fields.String(metadata={"description": "member (you said so) or partner"})
    created_at = fields.DateTime()


class IWentSchema(StrictSchema):
    listing_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    session_on = session_day()


class PeerSummarySchema(Schema):
    """What a suggested peer shows before any introduction: the name they chose, nothing
    private (where they live shows only as a distance band in the reasons)."""

    display_name = fields.String()


class SuggestionSchema(Schema):
    id = fields.Integer()
    kind = enum(SuggestionKind)
    score = fields.Float(metadata={"description": "How well it fits, from 0 to 1"})
    reasons = fields.List(fields.String())
    status = enum(SuggestionStatus)
    cycle = fields.String(metadata={"description": "ISO week the suggestion belongs to"})
    created_at = fields.DateTime()
    listing = fields.Nested(ListingSummarySchema, allow_none=True)
    peer = fields.Nested(PeerSummarySchema, allow_none=True)


class CurrentSuggestionsSchema(Schema):
    groups = fields.List(fields.Nested(SuggestionSchema))
    peers = fields.List(fields.Nested(SuggestionSchema))


class AnswerSchema(StrictSchema):
    answer = enum(Answer, required=True, metadata={"description": "yes, no or later"})
    share_contact = boolean(
        load_default=False,
        metadata={
            "description": "With a yes to a group: let its organization see your name and email"
        },
    )


class SharedPeerSchema(Schema):
    display_name = fields.String()
    email = fields.String(metadata={"description": "Only if they chose to share it"})


class IntroductionSchema(Schema):
    id = fields.Integer()
    introduced_at = fields.DateTime()
    peer = fields.Nested(SharedPeerSchema)


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class InboxQuerySchema(StrictSchema):
    # A query string carries text: "true"/"false" (fields.Boolean), unlike JSON bodies.
    unread = fields.Boolean(load_default=False, metadata={"description": "Only unread ones"})
    # A validator must raise: marshmallow 4 ignores a lambda that returns False (no bound at all).
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


@blp.post("/members/me/match-requests")
@authenticated(Role.MEMBER)
@idempotent
@blp.response(202, MatchRequestSchema)
def request_matches():
    """Ask for matches. The answer comes from a worker: follow `Location` until `done`.

    Asking again while a request is still waiting returns that request."""
    request = matching.request_matches(kindred().uow(), current_caller())
    location = url_for("matches.get_match_request", request_id=request.id)
    return request, 202, {"Location": location}


@blp.get(f"/match-requests/<{ID}:request_id>")
@authenticated(Role.MEMBER)
@blp.response(200, MatchRequestSchema)
def get_match_request(request_id):
    """One of your match requests: queued, running, done or failed."""
    return matching.get_match_request(kindred().uow(), current_caller(), request_id)


@blp.get("/members/me/suggestions")
@authenticated(Role.MEMBER)
@blp.response(200, CurrentSuggestionsSchema)
def current_suggestions():
    """Your current group and peer suggestions, best first, each with its reasons."""
    return matching.current_suggestions(kindred().uow(), current_caller())


@blp.post(f"/suggestions/<{ID}:suggestion_id>/response")
@authenticated(Role.MEMBER)
@idempotent
@blp.arguments(AnswerSchema)
@blp.response(200, SuggestionSchema)
def answer_suggestion(data, suggestion_id):
    """Say yes, no or later. A "no" is remembered: that suggestion never comes back."""
    return matching.answer_suggestion(
        kindred().uow(), current_caller(), suggestion_id, data["answer"], data["share_contact"]
    )


@blp.get("/members/me/notifications")
@authenticated(Role.MEMBER)
@blp.arguments(InboxQuerySchema, location="query")
@blp.response(200, NotificationSchema(many=True))
def inbox(query):
    """Your in-app notifications, newest first."""
    return notifications.inbox(kindred().uow(), current_caller(), query["unread"], query["limit"])


@blp.post(f"/members/me/notifications/<{ID}:notification_id>/read")
@authenticated(Role.MEMBER)
@idempotent
@blp.response(200, NotificationSchema)
def mark_read(notification_id):
    """Mark one notification as read."""
    return notifications.mark_read(kindred().uow(), current_caller(), notification_id)


@blp.get("/members/me/introductions")
@authenticated(Role.MEMBER)
@blp.response(200, IntroductionSchema(many=True))
def my_introductions():
    """People you were introduced to (both said yes), with what each chose to share."""
    return introductions.my_introductions(kindred().uow(), current_caller())


@blp.post("/members/me/attendance")
@authenticated(Role.MEMBER)
@idempotent
@blp.arguments(IWentSchema)
@blp.response(201, AttendanceSchema)
@blp.alt_response(200, schema=AttendanceSchema, description="Already recorded for that day")
def i_went(data):
    """Say "I went" to a session of a listing (today unless `session_on` says when). Going
    back is what the matcher trusts most; a "start slowly" member moves a step up."""
    recorded = attendance.i_went(
        kindred().uow(), current_caller(), data["listing_id"], data["session_on"]
    )
    return recorded.attendance, 201 if recorded.created else 200


@blp.get("/members/me/attendance")
@authenticated(Role.MEMBER)
@blp.response(200, AttendanceSchema(many=True))
def my_attendance():
    """The sessions you went to, newest first (yours, and your partners' check-ins of you)."""
    return attendance.my_attendance(kindred().uow(), current_caller())


class BalanceSchema(Schema):
    giving = fields.Integer(metadata={"description": "Yeses and visits to listings where you give"})
    receiving = fields.Integer(
        metadata={"description": "Yeses and visits to listings where you receive"}
    )
    leaning = fields.String(
        allow_none=True,
        metadata={"description": "giving or receiving when one side is at least 3 and three "
                  "times the other: your next suggestions then include one of the other kind"},
    )  # fmt: skip
    days = fields.Integer(metadata={"description": "The window counted, in days"})


@blp.get("/members/me/balance")
@authenticated(Role.MEMBER)
@blp.response(200, BalanceSchema)
def my_balance():
    """Your own balance of giving (volunteering, helping) and receiving (classes, groups) over
    the last 90 days. Only you see it."""
    return balance.my_balance(kindred().uow(), current_caller())
