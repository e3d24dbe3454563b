"""Regions from KINDRED_REGIONS: parsing, which region holds a point, and the queues they make."""

from __future__ import annotations

import json

import pytest

from service.config import Settings
from service.domain.events import EventKind, queue_for
from service.domain.regions import Regions, parse
from workers.queues import ALL_QUEUES, all_queues

SPEC = {
    "regions": {"nyc": [40.4, -74.3, 41.0, -73.6], "fiji": [-21.0, 176.0, -12.0, -178.0]},
    "default": "elsewhere",
}


def test_no_regions_configured_means_one_matching_queue_as_before():
    assert parse(None) is None and parse("  ") is None
    assert queue_for(EventKind.LISTING_PUBLISHED) == "matching"
    assert queue_for(EventKind.NOTIFICATION_CREATED) == "notifications"
    assert all_queues(None) == ("maintenance", "matching", "notifications")
    assert all_queues(None) == ALL_QUEUES  # the test environment sets no KINDRED_REGIONS


def test_a_point_belongs_to_the_first_box_holding_it_else_the_default():
    regions = parse(json.dumps(SPEC))
    assert regions.of(40.73, -73.95) == "nyc"
    assert regions.of(45.52, -122.68) == "elsewhere"
    assert regions.of(None, None) == "elsewhere"  # a virtual listing, a member with no place
    assert regions.of(-17.7, 178.4) == "fiji" and regions.of(-17.7, -179.0) == "fiji"
    assert regions.of(-17.7, 170.0) == "elsewhere"  # west of a box that crosses 180 degrees
    assert regions.names == ("nyc", "fiji", "elsewhere")


def test_matching_events_go_to_their_regions_queue_and_notifications_do_not():
    assert queue_for(EventKind.MATCHES_REQUESTED, "nyc") == "matching-nyc"
    assert queue_for(EventKind.SUGGESTION_ANSWERED, "nyc") == "matching-nyc"
    assert queue_for(EventKind.MATCHES_READY, "nyc") == "notifications"
    assert all_queues(parse(json.dumps(SPEC))) == (
        "maintenance",
        "matching",
        "matching-nyc",
        "matching-fiji",
        "matching-elsewhere",
        "notifications",
    )


def test_a_list_form_a_file_and_a_default_default(tmp_path):
    path = tmp_path / "regions.json"
    path.write_text(json.dumps([{"name": "nyc", "box": [40.4, -74.3, 41.0, -73.6]}]))
    regions = parse(str(path))
    assert regions == parse(path.read_text())
    assert regions.default == "default" and regions.of(0, 0) == "default"


@pytest.mark.parametrize(
    "spec",
    [
        "{not json",
        "/nonexistent/regions.json",
        '{"regions": {}}',
        '{"regions": {"NYC": [40, -74, 41, -73]}}',  # upper case: not a queue-friendly name
        '{"regions": {"nyc": [41, -74, 40, -73]}}',  # south of north
        '{"regions": {"nyc": [40, -74, 41]}}',
        '{"regions": {"nyc": [40, -74, 41, true]}}',
        '{"regions": {"nyc": [40, -74, 41, -73]}, "default": "nyc"}',
        '{"regions": [{"name": "a", "box": [0, 0, 1, 1]}, {"name": "a", "box": [2, 2, 3, 3]}]}',
        '{"regions": [{"name": "a"}]}',
    ],
)
def test_malformed_regions_are_refused_naming_the_variable(spec):
    with pytest.raises(ValueError, match="KINDRED_REGIONS"):
        parse(spec)


def test_settings_read_the_regions_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KINDRED_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("KINDRED_REGIONS", json.dumps(SPEC))
    assert isinstance(Settings.from_env().regions, Regions)
    monkeypatch.delenv("KINDRED_REGIONS")
    assert Settings.from_env().regions is None
