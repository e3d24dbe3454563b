"""Listings: partners post and edit their own; members and coordinators read live ones."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationMetadataSchema
from marshmallow import (
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from service.adapters.repositories import ListingFilter
from service.api.auth import ID, authenticated, current_caller, kindred
from service.api.fields import (
    Instant,
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
    session_day,
    tag_list,
    text,
)
from service.api.idempotency import idempotent
from service.api.matches import AttendanceSchema
from service.domain.credentials import Role
from service.domain.errors import RuleViolation
from service.domain.vocabulary import (
    ACCESSIBILITY_FEATURES,
    Direction,
    GroupSize,
    ListingKind,
    ListingStatus,
    Pace,
    Structure,
    Weekday,
)
from service.services import attendance, interest
from service.services import listings as use_cases


class JsonPaginationBlueprint(Blueprint):
    """Documents X-Pagination as what it is: a JSON object in a header. flask-smorest documents
    it with a plain `schema`, which in OpenAPI 3 means the "simple" style (`total,1,page,1`)."""

    def _document_pagination_metadata(self, spec, resp_doc):
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "Pagination metadata, as JSON",
            "content": {"application/json": {"schema": PaginationMetadataSchema}},
        }


blp = JsonPaginationBlueprint(
    "listings",
    __name__,
    url_prefix="/api/v1/listings",
    description="Clubs, groups, classes, volunteer roles and support groups posted by partners",
)


class WeeklySlotSchema(StrictSchema):
    day = enum(Weekday, required=True)
    start = clock_time(required=True)
    minutes = fields.Integer(required=True, validate=validate.Range(min=15, max=600))


class DatedSessionSchema(StrictSchema):
    starts_at = Instant(
        required=True,
        validate=validate.Range(
            min=datetime(2000, 1, 1, tzinfo=UTC),
            max=datetime(2100, 1, 1, tzinfo=UTC),
            error="a date between 2000 and 2100",
        ),
    )
    minutes = fields.Integer(required=True, validate=validate.Range(min=15, max=1440))


class ListingWriteSchema(StrictSchema):
    kind = enum(ListingKind, required=True)
    direction = enum(
        Direction,
        required=True,
        metadata={
            "description": "give: the member helps (volunteering); receive: the member is helped"
        },
    )
    title = text(120, min_length=3, required=True)
    description = text(4000, required=True, multiline=True)
    interests = tag_list(required=True, min_items=1)
    causes = tag_list(load_default=list)
    is_virtual = boolean(load_default=False)
    lat = latitude()
    lon = longitude()
    area = text(80, allow_none=True, metadata={"description": "A human name, e.g. Hackney"})
    weekly_slots = bounded_list(
        fields.Nested(WeeklySlotSchema),
        14,
        load_default=list,
        metadata={
            "description": "Regular meetings. With no slots and no sessions, times are flexible"
        },
    )
    sessions = bounded_list(fields.Nested(DatedSessionSchema), 52, load_default=list)
    timezone = TimeZoneName(
        validate=validate.Length(max=64),
        load_default="UTC",
        metadata={"description": "Where it meets, e.g. Europe/London: weekly slots are in it"},
    )
    group_size = enum(GroupSize, required=True)
    structure = enum(Structure, required=True)
    pace = enum(Pace, required=True)
    accessibility = bounded_list(
        fields.String(validate=validate.OneOf(ACCESSIBILITY_FEATURES)), 8, load_default=list
    )
    capacity = fields.Integer(validate=validate.Range(min=1, max=10000), allow_none=True)
    languages = language_list(load_default=lambda: ["en"])
    status = enum(
        ListingStatus,
        metadata={
            "description": "On create: draft, or omit to submit. "
            "On edit: submit, pause, resume, close"
        },
    )


class ListingUpdateSchema(ListingWriteSchema):
    """The same fields, every one optional (used with partial=True)."""


class ListingSchema(Schema):
    id = fields.Integer()
    organization_id = fields.Integer()
    organization_name = fields.String()
    kind = enum(ListingKind)
    direction = enum(Direction)
    title = fields.String()
    description = fields.String()
    interests = fields.List(fields.String())
    causes = fields.List(fields.String())
    is_virtual = fields.Boolean()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    area = fields.String(allow_none=True)
    weekly_slots = fields.List(fields.Dict())
    sessions = fields.List(fields.Dict())
    timezone = fields.String()
    group_size = enum(GroupSize)
    structure = enum(Structure)
    pace = enum(Pace)
    accessibility = fields.List(fields.String())
    capacity = fields.Integer(allow_none=True)
    languages = fields.List(fields.String())
    status = enum(ListingStatus)
    # The review, between the partner and the coordinators: members do not get these two.
    status_changed_by = fields.String(metadata={"description": "Partners and coordinators only"})
    status_changed_at = fields.DateTime()
    review_note = fields.String(
        allow_none=True, metadata={"description": "Partners and coordinators only"}
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


PAGINATION_PARAMETERS = {"page", "page_size"}
# Deep pages are refused rather than handed to the database as huge offsets.
MAX_PAGE = 10_000


class ListingQuerySchema(StrictSchema):
    kind = enum(ListingKind)
    direction = enum(Direction)
    cause = text(40)
    tag = text(40)
    status = enum(ListingStatus)
    virtual = fields.Boolean()
    lat = latitude()
    lon = longitude()
    within_km = fields.Float(validate=validate.Range(min=0.1, max=500))

    class Meta(StrictSchema.Meta):
        # page and page_size are read by the paginator from the same query string, so this
        # schema lets them through and refuses any other unknown parameter itself.
        unknown = "exclude"

    @pre_load
    def refuse_unknown(self, data, **kwargs):
        known = set(self.fields) | PAGINATION_PARAMETERS
        unknown = sorted(name for name in data if name not in known)
        if unknown:
            raise ValidationError({name: ["Unknown field."] for name in unknown})
        return data

    @validates_schema
    def near_is_complete(self, data, **kwargs):
        given = [name for name in ("lat", "lon", "within_km") if data.get(name) is not None]
        if given and len(given) < 3:
            raise ValidationError("lat, lon and within_km go together", "within_km")


class ReviewSchema(StrictSchema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    reason = text(500, allow_none=True)

    @validates_schema
    def reject_has_reason(self, data, **kwargs):
        if data.get("decision") == "reject" and not data.get("reason"):
            raise ValidationError("say why, so the partner can fix it", "reason")


def json_safe_schedule(data: dict) -> dict:
    """Slots and sessions are stored in JSON columns: turn enums and datetimes into text."""
    if "weekly_slots" in data:
        data["weekly_slots"] = [{**slot, "day": slot["day"].value} for slot in data["weekly_slots"]]
    if "sessions" in data:
        # Stored in UTC so that sorting the text sorts the times.
        in_time_order = sorted(data["sessions"], key=lambda s: s["starts_at"])
        data["sessions"] = [
            {**s, "starts_at": s["starts_at"].astimezone(UTC).isoformat()} for s in in_time_order
        ]
    return data


def _filters(args: dict) -> ListingFilter:
    near = None
    if args.get("within_km") is not None:
        near = (args["lat"], args["lon"], args["within_km"])
    status = args.get("status")
    return ListingFilter(
        kind=args.get("kind"),
        direction=args.get("direction"),
        cause=(args.get("cause") or "").strip().lower() or None,
        tag=(args.get("tag") or "").strip().lower() or None,
        statuses=(status,) if status else None,
        is_virtual=args.get("virtual"),
        near=near,
    )


@blp.get("")
@authenticated()
@blp.arguments(ListingQuerySchema, location="query")
@blp.response(200, ListingSchema(many=True))
@blp.paginate(page_size=20, max_page_size=100)
def list_listings(args, pagination_parameters):
    """Listings the caller may see, filtered; paging metadata is in the X-Pagination header."""
    if pagination_parameters.page > MAX_PAGE:
        raise RuleViolation("page number too high", {"page": [f"at most {MAX_PAGE}"]})
    page = use_cases.search_listings(
        kindred().uow(),
        current_caller(),
        _filters(args),
        offset=pagination_parameters.first_item,
        limit=pagination_parameters.page_size,
    )
    pagination_parameters.item_count = page.total
    return page.items


@blp.post("")
@authenticated(Role.PARTNER)
@idempotent
@blp.arguments(ListingWriteSchema)
@blp.response(201, ListingSchema)
def create_listing(data):
    """Post a listing (partner). It waits for review unless the organization is verified."""
    return use_cases.create_listing(kindred().uow(), current_caller(), json_safe_schedule(data))


@blp.get(f"/<{ID}:listing_id>")
@authenticated()
@blp.response(200, ListingSchema)
def get_listing(listing_id):
    """One listing: its partner sees it in any status, others only while it is active."""
    return use_cases.get_listing(kindred().uow(), current_caller(), listing_id)


@blp.patch(f"/<{ID}:listing_id>")
@authenticated(Role.PARTNER)
@blp.arguments(all_optional(ListingUpdateSchema))
@blp.response(200, ListingSchema)
def update_listing(changes, listing_id):
    """Edit, submit, pause, resume or close your own listing (partner)."""
    return use_cases.update_listing(
        kindred().uow(), current_caller(), listing_id, json_safe_schedule(changes)
    )


@blp.delete(f"/<{ID}:listing_id>")
@authenticated(Role.PARTNER)
@blp.response(204)
def close_listing(listing_id):
    """Close your own listing (partner). The record stays for members' history."""
    use_cases.close_listing(kindred().uow(), current_caller(), listing_id)


@blp.post(f"/<{ID}:listing_id>/review")
@authenticated(Role.COORDINATOR)
@idempotent
@blp.arguments(ReviewSchema)
@blp.response(200, ListingSchema)
def review_listing(data, listing_id):
    """Approve or reject a pending listing, with a reason (coordinator)."""
    return use_cases.review_listing(
        kindred().uow(),
        current_caller(),
        listing_id,
        approve=data["decision"] == "approve",
        reason=data.get("reason"),
    )


class InterestCountsSchema(Schema):
    suggested = fields.Integer(metadata={"description": "Members it was suggested to"})
    open = fields.Integer()
    yes = fields.Integer()
    no = fields.Integer()
    later = fields.Integer()
    expired = fields.Integer()


class SharedContactSchema(Schema):
    contact_id = fields.Integer(
        metadata={"description": "Names this member in a check-in (POST .../check-ins)"}
    )
    display_name = fields.String()
    email = fields.String()
    said_yes_at = fields.DateTime()


class InterestSchema(Schema):
    listing_id = fields.Integer()
    interest = fields.Nested(InterestCountsSchema)
    contacts = fields.List(
        fields.Nested(SharedContactSchema),
        metadata={"description": "Members who said yes and chose to share their contact"},
    )


@blp.get(f"/<{ID}:listing_id>/interest")
@authenticated(Role.PARTNER, Role.COORDINATOR)
@blp.response(200, InterestSchema)
def listing_interest(listing_id):
    """How members answered this listing's suggestions, and the contacts they chose to share
    (the owning partner only; coordinators see the counts)."""
    return interest.listing_interest(kindred().uow(), current_caller(), listing_id)


class CheckInSchema(StrictSchema):
    contact_id = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "A `contact_id` from the listing's interest: a member who "
                  "said yes and shared their contact with you"},
    )  # fmt: skip
    session_on = session_day()


@blp.post(f"/<{ID}:listing_id>/check-ins")
@authenticated(Role.PARTNER)
@idempotent
@blp.arguments(CheckInSchema)
@blp.response(201, AttendanceSchema)
@blp.alt_response(200, schema=AttendanceSchema, description="Already recorded for that day")
def check_in(data, listing_id):
    """Check a member in for a session of your listing (today unless `session_on` says when).
    Once per member and day: checking in again, or after the member said they went, is 200."""
    recorded = attendance.check_in(
        kindred().uow(), current_caller(), listing_id, data["contact_id"], data["session_on"]
    )
    return recorded.attendance, 201 if recorded.created else 200
