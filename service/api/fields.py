"""Bounded, normalising marshmallow fields shared by the API schemas.

Every string and list has a maximum, so no request can make kindred store or score something huge.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow as ma
from marshmallow import fields, validate

from service.domain.vocabulary import DayPart, Weekday, values_of

TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9 &'+/.-]{0,39}$")
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
AVAILABILITY_SLOTS = [f"{day}_{part}" for day in values_of(Weekday) for part in values_of(DayPart)]


class Tag(fields.String):
    """An interest or cause: trimmed, lower-cased, 1-40 plain characters."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = " ".join(super()._deserialize(value, attr, data, **kwargs).split()).lower()
        if not TAG_PATTERN.match(text):
            raise ma.ValidationError(
                "a tag is 1-40 letters, digits, spaces or & ' + / . - and starts with a letter "
                "or digit"
            )
        return text


class TimeZoneName(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ma.ValidationError("not a known time zone, e.g. Europe/London") from error
        return name


def text(max_length: int, min_length: int = 1, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=min_length, max=max_length), **kwargs)


def bounded_list(inner: fields.Field, max_items: int, min_items: int = 0, **kwargs) -> fields.List:
    return fields.List(inner, validate=validate.Length(min=min_items, max=max_items), **kwargs)


def tag_list(max_items: int = 20, **kwargs) -> fields.List:
    return bounded_list(Tag(), max_items, **kwargs)


def latitude(**kwargs) -> fields.Float:
    return fields.Float(validate=validate.Range(min=-90, max=90), allow_none=True, **kwargs)


def longitude(**kwargs) -> fields.Float:
    return fields.Float(validate=validate.Range(min=-180, max=180), allow_none=True, **kwargs)


def clock_time(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.Regexp(TIME_PATTERN, error="a time like 09:30 (24-hour clock)"), **kwargs
    )


def language_list(**kwargs) -> fields.List:
    code = fields.String(
        validate=validate.Regexp(r"^[a-z]{2,3}$", error="a language code such as en or spa")
    )
    return bounded_list(code, 10, **kwargs)


def enum(enum_class, **kwargs) -> fields.Enum:
    return fields.Enum(enum_class, by_value=True, **kwargs)


class StrictSchema(ma.Schema):
    """Unknown fields are refused, not silently dropped: a typo should not look like success."""

    class Meta:
        unknown = ma.RAISE
        ordered = True
