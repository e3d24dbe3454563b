"""The connection check-in: three questions a month (UCLA-3), the member's own trend, and where
professional help is found. Only the member's own token reads or writes it."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api.auth import authenticated, current_caller, kindred
from service.api.fields import StrictSchema
from service.api.idempotency import idempotent
from service.domain.credentials import Role
from service.services import connection_checkin

blp = Blueprint(
    "checkins",
    __name__,
    url_prefix="/api/v1/members/me/connection-check-ins",
    description="The connection check-in (opt-in): three questions once a month, seen by the "
    "member alone; never a diagnosis",
)

ANSWER = "1 hardly ever, 2 some of the time, 3 often"


def _answer(question: connection_checkin.Question) -> fields.Integer:
    return fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=3),
        metadata={"description": f"{question.text} {ANSWER}"},
    )


class CheckInAnswersSchema(StrictSchema):
    lack_companionship = _answer(connection_checkin.QUESTIONS[0])
    left_out = _answer(connection_checkin.QUESTIONS[1])
    isolated = _answer(connection_checkin.QUESTIONS[2])


class CheckInQuestionSchema(Schema):
    key = fields.String()
    text = fields.String()


class CheckInChoiceSchema(Schema):
    value = fields.Integer()
    label = fields.String()


class CheckInMonthSchema(Schema):
    month = fields.String(metadata={"description": "Your local month, YYYY-MM"})
    lack_companionship = fields.Integer()
    left_out = fields.Integer()
    isolated = fields.Integer()
    score = fields.Integer(metadata={"description": "The sum of the three answers, 3 to 9"})
    answered_at = fields.DateTime()


class SupportPlaceSchema(Schema):
    name = fields.String()
    detail = fields.String()
    url = fields.String(allow_none=True)


class SupportNoteSchema(Schema):
    message = fields.String()
    places = fields.List(fields.Nested(SupportPlaceSchema))


class ConnectionCheckInSchema(Schema):
    consent = fields.Boolean(
        metadata={"description": "Whether you gave the connection_checkin consent (PUT "
                  "/api/v1/members/me/consents); without it nothing can be answered"}
    )  # fmt: skip
    month = fields.String(metadata={"description": "This month, in your time zone"})
    answered_this_month = fields.Boolean()
    questions = fields.List(fields.Nested(CheckInQuestionSchema))
    choices = fields.List(fields.Nested(CheckInChoiceSchema))
    this_month = fields.Nested(CheckInMonthSchema, allow_none=True)
    trend = fields.List(
        fields.Nested(CheckInMonthSchema),
        metadata={"description": "Your own months, oldest first, the last 12"},
    )
    support = fields.Nested(
        SupportNoteSchema,
        allow_none=True,
        metadata={"description": "Where professional help is found, when your latest score "
                  "is 6 or more"},
    )  # fmt: skip


class CheckInAnsweredSchema(Schema):
    """Which month the answers were kept for; the answers themselves are read with GET (so a
    replayed Idempotency-Key answer holds none of them)."""

    month = fields.String()
    answered_at = fields.DateTime()
    replaced = fields.Boolean(metadata={"description": "This month's earlier answers replaced"})


def _view(check_in: connection_checkin.MyCheckIn) -> dict:
    return {
        "consent": check_in.consent,
        "month": check_in.month,
        "answered_this_month": check_in.answered_this_month,
        "questions": connection_checkin.QUESTIONS,
        "choices": [{"value": v, "label": label} for v, label in connection_checkin.CHOICES],
        "this_month": check_in.this_month,
        "trend": check_in.trend,
        "support": check_in.support,
    }


@blp.get("")
@authenticated(Role.MEMBER)
@blp.response(200, ConnectionCheckInSchema)
def my_check_in():
    """The questions, whether this month is answered, your own trend, and where help is found
    when your latest score is 6 or more. Nobody else can read this."""
    return _view(
        connection_checkin.my_check_in(
            kindred().uow(), current_caller(), kindred().settings.support_url
        )
    )


@blp.post("")
@authenticated(Role.MEMBER)
@idempotent
@blp.arguments(CheckInAnswersSchema)
@blp.response(201, CheckInAnsweredSchema)
def answer(data):
    """Answer this month's three questions (each 1, 2 or 3). Answering again in the same month
    replaces that month's answers. Needs the connection_checkin consent (409 without it)."""
    return connection_checkin.answer(kindred().uow(), current_caller(), data)
