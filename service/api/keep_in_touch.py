"""Keep in touch: the member's follow-ups after an introduction or a first session, their
replies, and the switch and snooze that keep them gentle."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.api.auth import ID, authenticated, current_caller, kindred
from service.api.fields import StrictSchema, boolean
from service.api.idempotency import idempotent
from service.domain.credentials import Role
from service.services import follow_ups

blp = Blueprint(
    "keep_in_touch",
    __name__,
    url_prefix="/api/v1/members/me/follow-ups",
    description="Keep-in-touch follow-ups: a week and three weeks after an introduction or a "
    "first session, one small step each, within the member's budget",
)

MAX_SNOOZE_DAYS = 90


class FollowUpSchema(Schema):
    id = fields.Integer()
    about = fields.String(metadata={"description": "introduction or listing"})
    name = fields.String(metadata={"description": "The person you were introduced to, or the "
                                   "listing"})  # fmt: skip
    step = fields.Integer(metadata={"description": "1: a week after, 2: three weeks after"})
    due_on = fields.Date()
    delivered_by = fields.String(
        metadata={"description": "notification, or digest (its small step, when the week's "
                  "budget had no room)"}
    )  # fmt: skip
    reply = fields.String(allow_none=True, metadata={"description": "kept_in_touch or not_for_me"})
    replied_at = fields.DateTime(allow_none=True)


class SettingsSchema(Schema):
    enabled = fields.Boolean()
    snoozed_until = fields.DateTime(allow_none=True)


class MyFollowUpsSchema(Schema):
    settings = fields.Nested(SettingsSchema)
    follow_ups = fields.List(fields.Nested(FollowUpSchema))


class SettingsChangeSchema(StrictSchema):
    enabled = boolean(metadata={"description": "false: no follow-ups at all"})
    snooze_days = fields.Integer(
        validate=validate.Range(min=0, max=MAX_SNOOZE_DAYS),
        metadata={"description": "Hold follow-ups back for this many days; 0 ends a snooze"},
    )

    @validates_schema
    def something_to_change(self, data, **kwargs):
        if not data:
            raise ValidationError("give enabled, snooze_days or both", "enabled")


class ReplySchema(StrictSchema):
    reply = fields.String(
        required=True,
        validate=validate.OneOf(follow_ups.REPLIES),
        metadata={"description": "kept_in_touch (you were in touch again, or went back) or "
                  "not_for_me (no more follow-ups about this one)"},
    )  # fmt: skip


@blp.get("")
@authenticated(Role.MEMBER)
@blp.response(200, MyFollowUpsSchema)
def my_follow_ups():
    """Your follow-ups, newest first, and whether they are on or snoozed."""
    return follow_ups.my_follow_ups(kindred().uow(), current_caller())


@blp.patch("")
@authenticated(Role.MEMBER)
@blp.arguments(SettingsChangeSchema)
@blp.response(200, SettingsSchema)
def change_settings(data):
    """Turn follow-ups off or on, or snooze them for up to 90 days."""
    return follow_ups.change_settings(
        kindred().uow(), current_caller(), data.get("enabled"), data.get("snooze_days")
    )


@blp.post(f"/<{ID}:follow_up_id>/reply")
@authenticated(Role.MEMBER)
@idempotent
@blp.arguments(ReplySchema)
@blp.response(200, FollowUpSchema)
def reply(data, follow_up_id):
    """Say you kept in touch, or that this one is not for you: no more about it."""
    return follow_ups.reply(kindred().uow(), current_caller(), follow_up_id, data["reply"])
