"""Reports for coordinators: the outcome figures, aggregates over groups of ten or more only."""

from __future__ import annotations

import functools

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, pre_load, validate

from service.api.auth import authenticated, current_caller, kindred
from service.api.fields import StrictSchema
from service.domain.credentials import Role
from service.services import outcomes

blp = Blueprint(
    "reports",
    __name__,
    url_prefix="/api/v1/reports",
    description="Outcome figures for coordinators: second visits, introductions followed up, "
    "attendance and the connection check-in trend, each month's figure only for groups of "
    f"{outcomes.MIN_GROUP_SIZE} or more",
)


class OutcomesQuerySchema(StrictSchema):
    months = fields.Integer(
        load_default=outcomes.DEFAULT_MONTHS,
        validate=validate.Range(min=1, max=outcomes.MAX_MONTHS),
        metadata={"description": "How many calendar months (UTC), this one included"},
    )

    @pre_load
    def refuse_unknown(self, data, **kwargs):
        """webargs drops unknown query parameters; a typo ("month=12") should not look like
        success."""
        unknown = sorted(name for name in data if name not in self.fields)
        if unknown:
            raise ValidationError({name: ["Unknown field."] for name in unknown})
        return data


class SecondVisitSchema(Schema):
    month = fields.String(metadata={"description": "YYYY-MM of the newcomers' first session"})
    newcomers = fields.Integer()
    came_back = fields.Integer(
        metadata={"description": "Went to the same listing again within 6 weeks"}
    )
    rate = fields.Float()


class IntroductionOutcomeSchema(Schema):
    month = fields.String(metadata={"description": "YYYY-MM the introductions were made"})
    introductions = fields.Integer()
    second_contact = fields.Integer(
        metadata={"description": "Both at one session afterwards, or a 'kept in touch' reply"}
    )
    rate = fields.Float()


class ListingMonthSchema(Schema):
    listing_id = fields.Integer()
    title = fields.String()
    month = fields.String()
    attendees = fields.Integer(metadata={"description": "Different people"})
    attendances = fields.Integer(metadata={"description": "Sessions attended, all told"})


class TopListingSchema(Schema):
    listing_id = fields.Integer()
    title = fields.String()
    total = fields.Integer(metadata={"description": "Attendances in the months shown"})


class CohortCheckInMonthSchema(Schema):
    month = fields.String()
    members = fields.Integer(metadata={"description": "Members who answered that month"})
    mean_score = fields.Float(metadata={"description": "UCLA-3, 3 (least lonely) to 9"})
    share_lonely = fields.Float(metadata={"description": "Share scoring 6 or more"})


@functools.cache
def figure(row_schema, withheld_help: str):
    class FigureSchema(Schema):
        rows = fields.List(fields.Nested(row_schema))
        withheld = fields.Integer(metadata={"description": withheld_help})

    FigureSchema.__name__ = f"{row_schema.__name__.removesuffix('Schema')}FigureSchema"
    return FigureSchema


MONTHS_WITHHELD = "Months of the window without a figure: fewer than 10 (or none)"


class CheckInsSchema(Schema):
    start_slowly = fields.Nested(figure(CohortCheckInMonthSchema, MONTHS_WITHHELD))
    others = fields.Nested(figure(CohortCheckInMonthSchema, MONTHS_WITHHELD))


class OutcomesSchema(Schema):
    months = fields.List(fields.String())
    min_group_size = fields.Integer()
    generated_at = fields.String()
    second_visits = fields.Nested(figure(SecondVisitSchema, MONTHS_WITHHELD))
    introductions = fields.Nested(figure(IntroductionOutcomeSchema, MONTHS_WITHHELD))
    attendance = fields.Nested(
        figure(ListingMonthSchema, "Listing-months with someone but fewer than 10 people")
    )
    top_listings = fields.List(fields.Nested(TopListingSchema))
    checkins = fields.Nested(CheckInsSchema)


@blp.get("/outcomes")
@authenticated(Role.COORDINATOR)
@blp.arguments(OutcomesQuerySchema, location="query")
@blp.response(200, OutcomesSchema)
def outcome_figures(query):
    """Outcome figures per month: a month (or listing-month, or cohort-month) with fewer than
    10 people or introductions is left out, and counted in `withheld`."""
    report = outcomes.outcomes(kindred().uow(), current_caller(), query["months"])
    return report.as_json()
