"""From HTML forms to the payloads the API schemas validate, and back to messages per field.

The pages load every form through the same marshmallow schemas as the JSON API, so a listing
posted through a form meets exactly the API's rules; this module only translates: text boxes
into lists, checkboxes into booleans, empty boxes into "not given".
"""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

from service.api.errors import flatten_errors
from service.domain.errors import DomainError

LIST_SEPARATORS = re.compile(r"[,\n;]+")


class FormInvalid(Exception):
    """A form that does not validate: messages by field name, shown next to each control."""

    def __init__(self, errors: dict[str, list[str]], message: str = "Please check the form."):
        super().__init__(message)
        self.errors = errors
        self.message = message


def words(text: str | None) -> list[str]:
    """Comma, semicolon or line separated text as a list: "gardening, walking" -> 2 words."""
    return [part.strip() for part in LIST_SEPARATORS.split(text or "") if part.strip()]


def ticked(form: MultiDict, name: str) -> bool:
    return form.get(name) in ("on", "yes", "true", "1")


def given(form: MultiDict, name: str) -> str | None:
    """The trimmed text of a box, or None when left empty."""
    value = (form.get(name) or "").strip()
    return value or None


def number(form: MultiDict, name: str, kind=float):
    """A number box: None when empty; text that is not a number is kept, so the schema refuses
    it with its usual message ("Not a valid number.")."""
    value = given(form, name)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        return value


def load(schema: Schema, payload: dict) -> dict:
    try:
        return schema.load(payload)
    except ValidationError as error:
        raise FormInvalid(flatten_errors(error.messages)) from error


def field_errors(error: DomainError) -> FormInvalid:
    return FormInvalid(error.errors or {"_body": [error.message]}, error.message)


def without_empty(payload: dict) -> dict:
    """Drop boxes left empty, so the schema's defaults (or "unchanged", on edit) apply."""
    return {key: value for key, value in payload.items() if value is not None}
