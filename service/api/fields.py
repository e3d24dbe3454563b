"""Bounded, normalising marshmallow fields shared by the API schemas.

Every string and list has a maximum, so no request can make kindred store or score something
huge; text is cleaned of what no person types (control characters, NUL, lone surrogates), and
booleans must be real JSON booleans, because a consent is given by `true`, not by "yes" or 1.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from zoneinfo import available_timezones

import marshmallow as ma
from marshmallow import fields, validate

from service.domain.vocabulary import DayPart, Weekday, values_of

# Letters of any script, digits, and a few joiners: "board games", "café", "d&d", "3d printing".
TAG_MAX_LENGTH = 40  # listing_tags.tag and member_tags.tag are String(40)
TAG_PATTERN = re.compile(r"^\w[\w &'+/.-]{0,39}$")
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
AVAILABILITY_SLOTS = [f"{day}_{part}" for day in values_of(Weekday) for part in values_of(DayPart)]
# Line breaks and tabs are fine in long text; every other control or format character is refused
# (NUL breaks PostgreSQL, and bidirectional overrides can disguise text).
ALLOWED_CONTROLS = {"\n", "\t"}


def check_length_as_sent(field: fields.Field, text: str) -> str:
    """Length bounds hold for the text as sent: trimming comes after, so padding a value with
    spaces cannot carry it past the documented maxLength."""
    for validator in field.validators:
        if isinstance(validator, validate.Length):
            validator(text)
    return text


class PlainText(fields.String):
    """Text a person typed: trimmed, with no control characters; single-line unless allowed."""

    def __init__(self, *args, multiline: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.multiline = multiline

    def _deserialize(self, value, attr, data, **kwargs):
        text = check_length_as_sent(self, super()._deserialize(value, attr, data, **kwargs))
        text = text.strip()
        allowed = ALLOWED_CONTROLS if self.multiline else set()
        for character in text:
            category = unicodedata.category(character)
            if category in ("Cc", "Cf", "Cs", "Co", "Cn") and character not in allowed:
                raise ma.ValidationError(
                    f"contains a character that is not allowed here (U+{ord(character):04X})"
                )
        return text


class Tag(PlainText):
    """An interest or cause: trimmed, lower-cased, 1-40 plain characters."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(min=1, max=TAG_MAX_LENGTH), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = " ".join(super()._deserialize(value, attr, data, **kwargs).split()).lower()
        if not TAG_PATTERN.match(text):
            raise ma.ValidationError(
                "a tag is 1-40 letters, digits, spaces or & ' + / . - and starts with a letter "
                "or digit"
            )
        return text


@cache
def known_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


class TimeZoneName(PlainText):
    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        # Membership, not ZoneInfo(name): that would open files named by the caller.
        if name not in known_time_zones():
            raise ma.ValidationError("not a known time zone, e.g. Europe/London")
        return name


class UniqueList(fields.List):
    """A list of plain values whose repeated entries are kept once, in first-seen order.

    Repeats are dropped after validation, so the documented maxItems holds for the list as sent.
    """

    def deserialize(self, value, attr=None, data=None, **kwargs):
        items = super().deserialize(value, attr, data, **kwargs)
        return list(dict.fromkeys(items)) if isinstance(items, list) else items


class EmailAddress(fields.Email):
    """An email address, lower-cased so that Ann@x.org and ann@x.org are one person."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(max=254), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        address = check_length_as_sent(self, super()._deserialize(value, attr, data, **kwargs))
        return address.strip().lower()


class _BoundAsSent:
    """Refuses text longer than MAX_LENGTH before parsing it (a parser would take any number of
    digits), and shows the bound in the OpenAPI document."""

    MAX_LENGTH: int

    def __init__(self, **kwargs):
        metadata = {"maxLength": self.MAX_LENGTH, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value) > self.MAX_LENGTH:
            raise ma.ValidationError(f"Longer than maximum length {self.MAX_LENGTH}.")
        return super()._deserialize(value, attr, data, **kwargs)


class Instant(_BoundAsSent, fields.AwareDateTime):
    """A date and time with its UTC offset (ISO 8601), at most 40 characters as sent."""

    MAX_LENGTH = 40


class Day(_BoundAsSent, fields.Date):
    """A calendar date, YYYY-MM-DD."""

    MAX_LENGTH = 10


def session_day() -> Day:
    """The day of a session someone attended; today when left out."""
    return Day(
        load_default=None,
        metadata={"description": "The session's date (YYYY-MM-DD); today if left out. "
                  "Not in the future, at most 60 days ago."},
    )  # fmt: skip


def text(max_length: int, min_length: int = 1, multiline: bool = False, **kwargs) -> PlainText:
    return PlainText(
        validate=validate.Length(min=min_length, max=max_length), multiline=multiline, **kwargs
    )


class StrictBoolean(fields.Boolean):
    """JSON true or false only: not "yes", not 1 (which Python would count as True)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid")
        return value


def boolean(**kwargs) -> StrictBoolean:
    return StrictBoolean(**kwargs)


def bounded_list(inner: fields.Field, max_items: int, min_items: int = 0, **kwargs) -> fields.List:
    """A list with a size limit; lists of plain values also drop repeats."""
    list_class = fields.List if isinstance(inner, fields.Nested) else UniqueList
    return list_class(inner, validate=validate.Length(min=min_items, max=max_items), **kwargs)


def tag_list(max_items: int = 20, **kwargs) -> UniqueList:
    return bounded_list(Tag(), max_items, **kwargs)


def latitude(**kwargs) -> fields.Float:
    return fields.Float(validate=validate.Range(min=-90, max=90), allow_none=True, **kwargs)


def longitude(**kwargs) -> fields.Float:
    return fields.Float(validate=validate.Range(min=-180, max=180), allow_none=True, **kwargs)


def clock_time(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.Regexp(TIME_PATTERN, error="a time like 09:30 (24-hour clock)"), **kwargs
    )


def language_list(**kwargs) -> UniqueList:
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


def all_optional(schema_class: type[ma.Schema]) -> ma.Schema:
    """An instance for PATCH: top-level fields optional, nested objects still complete.

    `partial=True` would reach into nested schemas too and accept a weekly slot with no day.
    """
    return schema_class(partial=tuple(schema_class().fields))
