"""Every bound the OpenAPI document states is one the API enforces, and every input has one.

The cases are derived from /openapi.json, not listed by hand: each string with a maxLength, each
list with a maxItems (in request bodies, nested ones included), and each query or header
parameter with a maxLength or maximum (page_size, limit...). One past the bound must be refused
with a 4xx JSON error that names the field, by path (`weekly_slots[0].start`), as the API names
fields. A new field is covered as soon as it is documented, and an undocumented bound on a new
string or list fails test_every_string_and_list_input_is_bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from hypothesis import find, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import ROLES, World, openapi_document

HTTP_METHODS = {"get", "put", "post", "patch", "delete"}
# Anchored, and no *, + or open {n,}: the pattern alone bounds the length.
UNBOUNDED_QUANTIFIER = re.compile(r"(?<!\\)[*+]|\{\d*,\}")


def resolve(schema: dict) -> dict:
    components = openapi_document()["components"]["schemas"]
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def operations():
    for path, item in openapi_document()["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation, shared + operation.get("parameters", [])


def body_schema(operation: dict) -> dict | None:
    content = operation.get("requestBody", {}).get("content", {})
    return content["application/json"]["schema"] if "application/json" in content else None


def walk(schema: dict, path: tuple = ()):
    """(path, schema) for every value in a request body; list items are at index 0."""
    schema = resolve(schema)
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from walk(child, (*path, name))
    if schema.get("type") == "array":
        yield from walk(schema.get("items", {}), (*path, 0))


def field_name(path: tuple) -> str:
    """The name the API gives a field in its errors: weekly_slots[0].start."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name


def sample(schema: dict):
    """A smallest valid value for a schema, so that only the bound under test is broken."""
    schema = resolve(schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: sample(schema["properties"][name]) for name in schema.get("required", [])}
    if kind == "array":
        return [sample(schema.get("items", {}))] * schema.get("minItems", 0)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time":
        return "2030-01-06T10:00:00+00:00"
    if schema.get("format") == "email":
        return "someone@example.org"
    if "pattern" in schema:
        strategy = st.from_regex(schema["pattern"], fullmatch=True)
        return find(strategy, lambda _: True, settings=settings(database=None))
    return "a" * max(schema.get("minLength", 1), 1)


def oversized(schema: dict):
    """One past each documented maximum: longer text, one more item (a repeat of a valid one:
    repeats count), a number above the maximum."""
    if "maxLength" in schema:
        return "a" * (schema["maxLength"] + 1)
    if "maxItems" in schema:
        return [sample(schema.get("items", {}))] * (schema["maxItems"] + 1)
    return schema["maximum"] + 1


def nest(path: tuple, value):
    """{"weekly_slots": [{"start": value}]} for ("weekly_slots", 0, "start")."""
    for part in reversed(path):
        value = [value] if isinstance(part, int) else {part: value}
    return value


@dataclass(frozen=True)
class Oversized:
    location: str  # body, query or header
    path: tuple
    value: object

    @property
    def field(self) -> str:
        return field_name(self.path)


def oversized_inputs(operation: dict, parameters: list[dict]) -> list[Oversized]:
    found = []
    schema = body_schema(operation)
    if schema is not None:
        for path, value_schema in walk(schema):
            if path and ("maxLength" in value_schema or "maxItems" in value_schema):
                found.append(Oversized("body", path, oversized(value_schema)))
    for parameter in parameters:
        bounds = parameter.get("schema", {})
        if parameter["in"] in ("query", "header") and (
            "maxLength" in bounds or "maximum" in bounds
        ):
            found.append(Oversized(parameter["in"], (parameter["name"],), oversized(bounds)))
    return found


def cases():
    for method, path, operation, parameters in operations():
        inputs = oversized_inputs(operation, parameters)
        if inputs:
            yield pytest.param(method, path, inputs, id=f"{method} {path}")


def is_bounded(schema: dict) -> bool:
    if schema.get("type") == "array":
        return "maxItems" in schema
    if schema.get("type") != "string" or "enum" in schema or "maxLength" in schema:
        return True
    pattern = schema.get("pattern", "")
    return (
        pattern.startswith("^")
        and pattern.endswith("$")
        and not (UNBOUNDED_QUANTIFIER.search(pattern))
    )


def test_every_string_and_list_input_is_bounded():
    unbounded = []
    for method, path, operation, parameters in operations():
        schema = body_schema(operation)
        values = list(walk(schema)) if schema is not None else []
        values += [((p["name"],), p.get("schema", {})) for p in parameters if p["in"] != "path"]
        unbounded += [
            f"{method} {path}: {field_name(name)}"
            for name, value_schema in values
            if not is_bounded(value_schema)
        ]
    assert not unbounded, "strings or lists without a documented bound:\n" + "\n".join(unbounded)


def test_cases_cover_the_bounds_the_design_relies_on():
    """The derivation finds what it should (so an empty or broken walk cannot pass silently)."""
    found = {
        f"{method} {path} {item.location}:{item.field}"
        for method, path, inputs in (case.values for case in cases())
        for item in inputs
    }
    for expected in (
        "GET /api/v1/listings query:page_size",
        "GET /api/v1/members/me/notifications query:limit",
        "POST /api/v1/listings body:title",
        "POST /api/v1/listings body:interests",
        "POST /api/v1/listings body:interests[0]",
        "POST /api/v1/listings body:sessions[0].starts_at",
        "PATCH /api/v1/members/me body:notify_channels",
        "POST /api/v1/organizations body:contact_email",
    ):
        assert expected in found


def send(world: World, role: str, method: str, path: str, item: Oversized):
    for name, ids in world.path_ids.items():
        path = path.replace(f"{{{name}}}", str(ids[0]))
    client = world.app.test_client()
    headers = world.authorization(role)
    if item.location == "body":
        return client.open(path, method=method, json=nest(item.path, item.value), headers=headers)
    if item.location == "query":
        return client.open(
            path, method=method, query_string={item.field: item.value}, headers=headers
        )
    headers[item.field] = item.value
    return client.open(path, method=method, json={}, headers=headers)


@pytest.mark.parametrize(("method", "path", "inputs"), list(cases()))
def test_one_past_each_documented_bound_is_refused_naming_the_field(world, method, path, inputs):
    problems = []
    for item in inputs:
        answers = {role: send(world, role, method, path, item) for role in ROLES}
        # Callers whose role may use the operation (the others are refused before the body).
        allowed = {role: r for role, r in answers.items() if r.status_code not in (401, 403)}
        assert allowed, f"{method} {path}: no role may call it"
        for role, response in allowed.items():
            named = response.is_json and item.field in (response.json.get("errors") or {})
            if response.status_code not in (400, 422) or not named:
                problems.append(
                    f"{item.location} {item.field} as {role}: {response.status_code} "
                    f"{response.get_data(as_text=True)[:200]}"
                )
    assert not problems, f"{method} {path}:\n" + "\n".join(problems)
