"""Validation errors are reported per field, whatever part of the request they came from."""

from __future__ import annotations

from service.api.errors import describe, flatten_errors


def test_single_location_is_flattened_to_fields():
    assert flatten_errors({"json": {"title": ["too long"]}}) == {"title": ["too long"]}


def test_several_locations_are_merged():
    merged = flatten_errors({"json": {"a": ["x"]}, "query": {"b": ["y"]}})
    assert merged == {"a": ["x"], "b": ["y"]}


def test_a_whole_body_error_gets_a_name():
    assert flatten_errors({"json": ["Invalid JSON body."]}) == {"_body": ["Invalid JSON body."]}


def test_domain_errors_pass_through():
    assert flatten_errors({"status": ["not allowed"]}) == {"status": ["not allowed"]}


def test_message_names_the_fields():
    assert describe({"title": [], "kind": []}) == "invalid input in: title, kind"
    assert describe({}) == "invalid input"
