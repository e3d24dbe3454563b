"""Members: open sign-up and everything about "me". Nobody else ever reads these fields."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api.auth import authenticated, current_caller, kindred
from service.api.fields import (
    AVAILABILITY_SLOTS,
    EmailAddress,
    StrictSchema,
    TimeZoneName,
    all_optional,
    boolean,
    bounded_list,
    clock_time,
    enum,
    language_list,
    latitude,
    longitude,
    tag_list,
    text,
)
from service.api.idempotency import answer_belongs_to, idempotent
from service.api.limits import sign_ups
from service.api.matches import (
    AttendanceSchema,
    IntroductionSchema,
    MatchRequestSchema,
    NotificationSchema,
    SuggestionSchema,
)
from service.domain.credentials import Role
from service.domain.events import subject
from service.domain.vocabulary import Attendance, Channel, GroupSize, Pace, Structure, Weekday
from service.services import members as use_cases

blp = Blueprint(
    "members",
    __name__,
    url_prefix="/api/v1/members",
    description="Member sign-up, profile, consents, export and erasure",
)


class ConsentsSchema(StrictSchema):
    matching = boolean(
        required=True, metadata={"description": "May kindred use this profile to suggest groups?"}
    )
    peer_introductions = boolean(
        required=True,
        metadata={
            "description": "May kindred suggest this member to other members with shared values?"
        },
    )
    coordinator_contact = boolean(
        metadata={
            "description": "May a volunteer coordinator get in touch if you go quiet for a "
            "while? Optional: omitted means not given at sign-up and unchanged later"
        },
    )
    connection_checkin = boolean(
        metadata={
            "description": "May kindred offer a short monthly connection check-in (three "
            "questions about loneliness) that only you see? Optional: omitted means not given "
            "at sign-up and unchanged later"
        },
    )


class ProfileFields(StrictSchema):
    display_name = text(60, required=True, metadata={"description": "What peers will see"})
    interests = tag_list(load_default=list)
    interests_text = text(
        1000,
        multiline=True,
        min_length=0,
        load_default="",
        metadata={"description": "In your own words: what you enjoy or would like to try"},
    )
    causes = tag_list(
        load_default=list, metadata={"description": "Causes and values you care about"}
    )
    lat = latitude()
    lon = longitude()
    area = text(80, allow_none=True)
    travel_radius_km = fields.Float(validate=validate.Range(min=0.5, max=100), load_default=5.0)
    availability = bounded_list(
        fields.String(validate=validate.OneOf(AVAILABILITY_SLOTS)),
        21,
        load_default=list,
        metadata={"description": "Free parts of the week, e.g. sat_morning, wed_evening"},
    )
    attendance = enum(Attendance, load_default=Attendance.IN_PERSON)
    languages = language_list(load_default=lambda: ["en"])
    comfort_group_size = enum(GroupSize, load_default=GroupSize.SMALL)
    comfort_structure = enum(Structure, load_default=Structure.STRUCTURED)
    comfort_pace = enum(Pace, load_default=Pace.LOW_KEY)
    start_slowly = boolean(
        load_default=False, metadata={"description": "Begin with small, low-key, structured groups"}
    )
    notify_channels = bounded_list(
        enum(Channel),
        2,
        min_items=1,
        load_default=lambda: [Channel.IN_APP],
    )
    digest_day = enum(Weekday, load_default=Weekday.SUN)
    quiet_hours_start = clock_time(load_default="21:00")
    quiet_hours_end = clock_time(load_default="08:00")
    timezone = TimeZoneName(validate=validate.Length(max=64), load_default="UTC")
    max_notifications_per_week = fields.Integer(
        validate=validate.Range(min=0, max=14), load_default=3
    )
    share_email_on_introduction = boolean(
        load_default=False,
        metadata={
            "description": "When a peer and you both say yes, show them your email "
            "(otherwise they see only your display name)"
        },
    )


class SignUpSchema(ProfileFields):
    email = EmailAddress(required=True)
    consents = fields.Nested(
        ConsentsSchema,
        metadata={"description": "Nothing is assumed: omitted consents are not given"},
    )


class ProfileUpdateSchema(ProfileFields):
    email = EmailAddress()


class ConsentStateSchema(Schema):
    granted = fields.Boolean()
    changed_at = fields.DateTime(allow_none=True)


class ProfileSchema(Schema):
    """The member's own view. Comfort, consents and email appear here and nowhere else."""

    id = fields.Integer()
    display_name = fields.String()
    email = fields.String()
    interests = fields.List(fields.String())
    interests_text = fields.String()
    causes = fields.List(fields.String())
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    area = fields.String(allow_none=True)
    travel_radius_km = fields.Float()
    availability = fields.List(fields.String())
    attendance = enum(Attendance)
    languages = fields.List(fields.String())
    comfort_group_size = enum(GroupSize)
    comfort_structure = enum(Structure)
    comfort_pace = enum(Pace)
    start_slowly = fields.Boolean()
    notify_channels = fields.List(fields.String())
    digest_day = enum(Weekday)
    quiet_hours_start = fields.String()
    quiet_hours_end = fields.String()
    timezone = fields.String()
    max_notifications_per_week = fields.Integer()
    share_email_on_introduction = fields.Boolean()
    consents = fields.Dict(keys=fields.String(), values=fields.Nested(ConsentStateSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class SignedUpSchema(Schema):
    id = fields.Integer()
    token = fields.String(metadata={"description": "The member's bearer token, shown once"})
    profile = fields.Nested(ProfileSchema)


class ConsentRecordSchema(Schema):
    purpose = fields.String()
    granted = fields.Boolean()
    recorded_at = fields.DateTime()


class ExportedSuggestionSchema(SuggestionSchema):
    answered_at = fields.DateTime(allow_none=True)
    contact_shared = fields.Boolean()


class WeeklyRoundSchema(Schema):
    cycle = fields.String(metadata={"description": "The member's local ISO week"})
    started_at = fields.DateTime()
    digest = fields.String(metadata={"description": "pending, sent, empty or no_budget"})


class ExportedFollowUpSchema(Schema):
    id = fields.Integer()
    subject = fields.String(metadata={"description": "introduction:<id> or listing:<id>"})
    step = fields.Integer()
    due_on = fields.Date()
    delivered_by = fields.String()
    created_at = fields.DateTime()
    reply = fields.String(allow_none=True)
    replied_at = fields.DateTime(allow_none=True)


class ExportedCheckInSchema(Schema):
    month = fields.String(metadata={"description": "Your local month, YYYY-MM"})
    lack_companionship = fields.Integer()
    left_out = fields.Integer()
    isolated = fields.Integer()
    score = fields.Integer()
    answered_at = fields.DateTime()


class ExportSchema(Schema):
    """Everything kindred holds about the member; erasure removes all of it."""

    exported_at = fields.DateTime()
    profile = fields.Nested(ProfileSchema)
    consent_history = fields.List(fields.Nested(ConsentRecordSchema))
    match_requests = fields.List(fields.Nested(MatchRequestSchema))
    suggestions = fields.List(fields.Nested(ExportedSuggestionSchema))
    introductions = fields.List(fields.Nested(IntroductionSchema))
    notifications = fields.List(fields.Nested(NotificationSchema))
    weekly_rounds = fields.List(fields.Nested(WeeklyRoundSchema))
    attendance = fields.List(fields.Nested(AttendanceSchema))
    follow_ups = fields.List(fields.Nested(ExportedFollowUpSchema))
    connection_checkins = fields.List(fields.Nested(ExportedCheckInSchema))


def _json_safe(data: dict) -> dict:
    if "notify_channels" in data:
        data["notify_channels"] = sorted({channel.value for channel in data["notify_channels"]})
    if "availability" in data:
        data["availability"] = sorted(set(data["availability"]))
    if "languages" in data:
        data["languages"] = list(dict.fromkeys(data["languages"]))
    return data


@blp.post("")
@sign_ups()
@idempotent
@blp.arguments(SignUpSchema)
@blp.response(201, SignedUpSchema)
def sign_up(data):
    """Create a member profile (open). Returns the member's token once: keep it."""
    signed_up = use_cases.sign_up(kindred().uow(), _json_safe(data))
    answer_belongs_to(subject("member", signed_up.member.id))  # erased with the member
    return {"id": signed_up.member.id, "token": signed_up.token, "profile": signed_up.member}


@blp.get("/me")
@authenticated(Role.MEMBER)
@blp.response(200, ProfileSchema)
def get_me():
    """Your own profile, including private fields."""
    return use_cases.get_me(kindred().uow(), current_caller())


@blp.patch("/me")
@authenticated(Role.MEMBER)
@blp.arguments(all_optional(ProfileUpdateSchema))
@blp.response(200, ProfileSchema)
def update_me(changes):
    """Change any part of your profile."""
    return use_cases.update_me(kindred().uow(), current_caller(), _json_safe(changes))


@blp.delete("/me")
@authenticated(Role.MEMBER)
@blp.response(204)
def erase_me():
    """Erase your account and everything kindred holds about you. This cannot be undone."""
    use_cases.erase_me(
        kindred().uow(), current_caller(), kindred().redis, kindred().settings.regions
    )


@blp.get("/me/export")
@authenticated(Role.MEMBER)
@blp.response(200, ExportSchema)
def export_me():
    """Everything kindred holds about you, as JSON."""
    return use_cases.export_me(kindred().uow(), current_caller())


@blp.put("/me/consents")
@authenticated(Role.MEMBER)
@blp.arguments(ConsentsSchema)
@blp.response(200, ProfileSchema)
def set_consents(data):
    """Give or withdraw each consent; each change is recorded with its time."""
    return use_cases.set_consents(kindred().uow(), current_caller(), data)
