"""Schemathesis over every operation of /openapi.json, with valid credentials for each role.

Each (operation, role) pair gets valid and invalid requests (schemathesis' positive and negative
generation, plus a known-valid body where there is one), with generated path ids and with the ids
of real rows, and every answer must be: not a 5xx, a documented status code, the documented
content type, a body and headers matching the documented schema; invalid input must be refused
with a 4xx. After a DELETE that erased the member or revoked the partner's key, the World issues
fresh credentials, so later examples are not all 401s.

KINDRED_FUZZ_EXAMPLES sets the examples per pair (a few here; `make fuzz` runs hundreds).
Generation is derandomized and the hypothesis database is off, so a run is reproducible.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import ROLES, WEBHOOK_HOST, World, fuzz_examples, openapi_document
from tests.integration.api.conftest import listing_body

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    # Invalid input (too long, too many, wrong type, unknown field...) is refused with a 4xx.
    negative_data_rejection,
]
HTTP_METHODS = {"get", "put", "post", "patch", "delete"}
# Bodies known to be valid, so that success answers (and their schemas) are reached often, not
# only when generation happens to satisfy every rule at once.
VALID_BODIES = {
    "POST /api/v1/organizations": {"name": "Seed Savers", "contact_email": "hi@seeds.example"},
    "PATCH /api/v1/organizations/{organization_id}": {"website": "https://garden.example/"},
    "POST /api/v1/organizations/{organization_id}/keys": {"label": "rotation"},
    "POST /api/v1/organizations/{organization_id}/webhooks": {
        "url": f"https://{WEBHOOK_HOST}/more"
    },
    "POST /api/v1/listings": listing_body(),
    "PATCH /api/v1/listings/{listing_id}": {"title": "Gentle garden club", "capacity": 20},
    "POST /api/v1/listings/{listing_id}/review": {"decision": "approve"},
    "POST /api/v1/members": {"display_name": "Cy", "email": "cy@example.org", "area": "Easton"},
    "PATCH /api/v1/members/me": {"area": "Clifton", "lat": 51.46, "lon": -2.61},
    "PUT /api/v1/members/me/consents": {"matching": True, "peer_introductions": True},
    "POST /api/v1/suggestions/{suggestion_id}/response": {"answer": "yes", "share_contact": True},
    "POST /api/v1/members/me/connection-check-ins": {
        "lack_companionship": 2,
        "left_out": 1,
        "isolated": 2,
    },
}
# Figures for the terminal summary (see conftest.pytest_terminal_summary).
TOTALS: Counter = Counter()
STATUSES: Counter = Counter()  # (operation, role, status code): answers


def operation_labels() -> list[str]:
    document = openapi_document()
    return [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]


def real_path_parameters(operation, world: World) -> list[dict[str, int]]:
    """Every combination of real ids for the operation's path parameters."""
    names = [p.name for p in operation.path_parameters]
    if not names or not all(name in world.path_ids for name in names):
        return []
    pools = [world.path_ids[name] for name in names]
    return [dict(zip(names, ids, strict=True)) for ids in itertools.product(*pools)]


def has_inputs(operation) -> bool:
    return bool(list(operation.iter_parameters())) or bool(operation.body)


def case_strategy(operation, world: World):
    """Valid and invalid cases, with generated path ids and with real ones."""
    modes = [GenerationMode.POSITIVE]
    if has_inputs(operation):
        modes.append(GenerationMode.NEGATIVE)
    # A fixed Authorization header is not mutated by negative generation (its value is replaced
    # by the caller's current token when sent).
    headers = {"Authorization": "Bearer replaced-when-sent"}
    strategies = []
    for mode in modes:
        strategies.append(operation.as_strategy(generation_mode=mode, headers=headers))
        strategies.extend(
            operation.as_strategy(generation_mode=mode, path_parameters=ids, headers=headers)
            for ids in real_path_parameters(operation, world)
        )
    if operation.label in VALID_BODIES:
        body = VALID_BODIES[operation.label]
        strategies.extend(
            operation.as_strategy(body=body, path_parameters=ids, headers=headers)
            for ids in real_path_parameters(operation, world) or [None]
        )
    return st.one_of(strategies)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", operation_labels())
def test_operation_conforms_to_its_schema(world, role, label):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", world.app)
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    headers = world.authorization(role)

    @settings(
        max_examples=fuzz_examples(),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(case=case_strategy(operation, world))
    def fuzz(case):
        nonlocal headers
        TOTALS["examples"] += 1
        TOTALS["requests"] += 1
        response = case.call(headers=headers)
        STATUSES[(label, role, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)
        if case.method == "DELETE" and response.status_code == 204:
            world.restore_credentials()
            headers = world.authorization(role)

    before = world.requests
    fuzz()
    TOTALS["requests"] += world.requests - before
    TOTALS["pairs"] += 1
