"""End-to-end evaluation: tiny data sets in the real CSV shapes, and (slow) the real data."""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.matching.datasets import DATASET_NAMES, NYC_CSV, NYC_QUERIES, load_dataset
from service.matching.evaluation import (
    GROUP_METHODS,
    PEER_METHODS,
    build_group_split,
    choose_on_validation,
    evaluate,
    write_report,
)

SHARED_DATA = Path(
    os.environ.get("KINDRED_SHARED_DATA")
    or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
# Topic -> (group name, description words). Members' topics decide what they join.
HOBBIES = {
    "python": ("Python Coders", "python programming code review"),
    "hiking": ("Trail Walkers", "hiking trails mountains outdoors"),
    "knitting": ("Yarn Circle", "knitting yarn crochet patterns"),
    "chess": ("Chess Night", "chess openings tournaments strategy"),
    "photography": ("Camera Walks", "photography cameras photo walks"),
}
SEED = ("11038292", "1685557")  # Portland's seed groups, by their real ids


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def member_hobbies(rng: random.Random) -> list[str]:
    return rng.sample(sorted(HOBBIES), k=rng.randint(2, 3))


def portland_group(group_id: str, name: str, description: str, category: str) -> dict:
    return {
        "group_id": group_id,
        "name": name,
        "urlname": name.replace(" ", ""),
        "link": "",
        "description": description,
        "city": "Portland",
        "state": "OR",
        "country": "us",
        "lat": 45.52,
        "lon": -122.68,
        "members": 50,
        "category_id": 1,
        "category_name": category,
        "category_short_name": category.lower(),
        "created": "2012-01-01 00:00:00",
        "join_mode": "open",
        "visibility": "public",
        "who": "Members",
        "timezone": "US/Pacific",
    }


def make_portland(folder: Path, rng: random.Random) -> None:
    group_ids = {hobby: str(100 + index) for index, hobby in enumerate(HOBBIES)}
    groups = [portland_group(gid, f"Seed {gid}", "<p>data science</p>", "Tech") for gid in SEED]
    for hobby, (name, words) in HOBBIES.items():
        description = f"<p>We love {words}.</p><script>x()</script>"
        groups.append(portland_group(group_ids[hobby], name, description, "Hobbies & Crafts"))
    groups.append(portland_group("999", "Book Club", "<p>novels</p>", "Book Clubs"))
    write_csv(folder / "groups.csv", groups)
    members, topics, memberships = [], [], []
    for number in range(1, 41):
        member = f"p{number:05d}"
        hobbies = member_hobbies(rng)
        members.append(
            {"member_id": member, "city": "Portland", "state": "OR", "country": "us"}
            | {"lat": 45.52, "lon": -122.67}
        )
        topics += [
            {
                "member_id": member,
                "topic_id": 1000 + i,
                "topic_name": hobby.title(),
                "urlkey": hobby,
            }
            for i, hobby in enumerate(hobbies)
        ]
        joins = [(SEED[number % 2], "2013-01-01 10:00:00")]
        joins += [
            (group_ids[hobby], f"2014-0{month}-{number % 28 + 1:02d} 10:00:00")
            for month, hobby in enumerate(hobbies, start=1)
        ]
        memberships += [
            {
                "member_id": member,
                "group_id": gid,
                "joined": when,
                "visited": "",
                "status": "active",
            }
            for gid, when in joins
        ]
    write_csv(folder / "members.csv", members)
    write_csv(folder / "member_topics.csv", topics)
    write_csv(folder / "memberships.csv", memberships)


def make_montana(folder: Path, rng: random.Random) -> None:
    group_ids = {hobby: str(500 + index) for index, hobby in enumerate(HOBBIES)}
    topic_of = {hobby: 2000 + index for index, hobby in enumerate(HOBBIES)}
    write_csv(
        folder / "groups.csv",
        [
            {"id": gid, "name": HOBBIES[hobby][0], "urlname": "", "link": "", "rating": 4.5}
            | {"created": 1249738648000, "description": f"<p>{HOBBIES[hobby][1]}</p>"}
            for hobby, gid in group_ids.items()
        ],
    )
    write_csv(
        folder / "groups_topics.csv",
        [
            {"groupId": gid, "name": hobby.title(), "id": topic_of[hobby], "urlkey": hobby}
            for hobby, gid in group_ids.items()
        ],
    )
    write_csv(
        folder / "venues.csv",
        [
            {"id": "v1", "name": "Library", "city": "Missoula", "address_1": "Main St"}
            | {"address_2": "", "lat": 46.87, "lon": -113.99}
        ],
    )
    events = [
        {"id": f"e{gid}{week}", "name": "Meet", "group_id": gid, "venue_id": "v1"}
        | {"time": 1_400_000_000_000 + (index * 3600 + week * 7 * 86400) * 1000}
        | {"utc_offset": -25200000, "status": "past", "description": "<p>x</p>"}
        for index, gid in enumerate(group_ids.values())
        for week in range(4)
    ]
    members, rsvps = [], []
    for number in range(1, 41):
        member = f"m{number:05d}"
        hobbies = member_hobbies(rng)
        topic_ids = ";".join(str(topic_of[hobby]) for hobby in hobbies)
        for order, hobby in enumerate(hobbies):
            joined = 1_400_000_000_000 + (number * 1000 + order * 100_000) * 1000
            members.append(
                {"member_id": member, "joined": joined, "topics": topic_ids}
                | {"group_id": group_ids[hobby]}
            )
            rsvps.append(
                {"rsvp_id": f"r{number}{order}", "event_id": f"e{group_ids[hobby]}{order}"}
                | {"member_id": member, "guests": 0, "response": "yes"}
                | {"created": joined + 5, "mtime": joined + 5}
            )
    write_csv(folder / "events.csv", events)
    write_csv(folder / "rsvps.csv", rsvps)
    write_csv(folder / "members.csv", members)


def nyc_row(number: int, summary: str, category: str, place: tuple) -> dict:
    lat, lon, borough = place
    return {
        "opportunity_id": str(number),
        "title": f"Volunteer {number}",
        "summary": summary,
        "category_desc": category,
        "org_title": "Good Org",
        "org_content_id": str(number % 4),
        "vol_requests": 3,
        "hits": number * 7,
        "Latitude": lat,
        "Longitude": lon,
        "Borough": borough,
    }


def make_nyc(folder: Path) -> None:
    categories = sorted(NYC_QUERIES.items()) * 5
    rows = [
        nyc_row(
            number,
            f"<b>Help</b> with {' and '.join(interests[:2])} this season.",
            category,
            ("40.71", "-74.0", "MANHATTAN"),
        )
        for number, (category, (interests, _causes)) in enumerate(categories)
    ]
    rows.append(nyc_row(900, "Sort donated items", "", ("", "", "")))
    write_csv(folder / NYC_CSV, rows)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    rng = random.Random(11)
    make_portland(tmp_path / "meetup_portland", rng)
    make_montana(tmp_path / "meetup_montana", rng)
    make_nyc(tmp_path / "nyc_service_volunteer")
    return tmp_path


def assert_metrics_in_range(methods: dict) -> None:
    for metrics in methods.values():
        for name, value in metrics.items():
            if name not in ("fit_seconds", "rank_ms_per_task"):
                assert 0.0 <= value <= 1.0, (name, value)


def test_loaders_read_the_csv_shapes_into_listings_profiles_and_joins(data_dir):
    portland = load_dataset("meetup_portland", data_dir)
    assert len(portland.listings) == 8
    assert portland.candidate_ids == {"100", "101", "102", "103", "104"}
    assert all("<" not in listing["description"] for listing in portland.listings)
    assert "x()" not in " ".join(listing["description"] for listing in portland.listings)
    assert len(portland.profiles) == 40

    montana = load_dataset("meetup_montana", data_dir)
    assert {listing["area"] for listing in montana.listings} == {"Missoula"}
    assert all(listing["weekly_slots"] for listing in montana.listings)
    assert {row["kind"] for row in montana.interactions} == {"joined", "attended"}
    assert montana.profiles["m00001"]["interests"]

    nyc = load_dataset("nyc_service_volunteer", data_dir)
    assert len(nyc.listings) == 31
    assert all(listing["causes"] == [] for listing in nyc.listings)
    assert sum(len(ids) for ids in nyc.relevance.values()) == 30


def test_validation_and_test_halves_share_no_member(data_dir):
    dataset = load_dataset("meetup_portland", data_dir)
    validation = {task.member_id for task in build_group_split(dataset, "validation").tasks}
    test = {task.member_id for task in build_group_split(dataset, "test").tasks}
    assert validation.isdisjoint(test)
    assert len(validation | test) == 40


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_every_method_runs_end_to_end_and_writes_a_report(data_dir, tmp_path, name):
    report = evaluate(load_dataset(name, data_dir), "test", seed=0, progress=False)
    assert list(report["groups"]["methods"]) == list(GROUP_METHODS)
    assert_metrics_in_range(report["groups"]["methods"])
    assert set(report["groups_target"]) == {"recall@10", "ndcg@10"}
    if name == "nyc_service_volunteer":
        assert report["peers"] is None
    else:
        assert list(report["peers"]["methods"]) == list(PEER_METHODS)
        assert_metrics_in_range(report["peers"]["methods"])
    json_path, png_path = write_report(report, tmp_path / "out")
    assert json.loads(json_path.read_text())["dataset"] == name
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_content_baseline_beats_random_where_topics_decide_the_joins(data_dir):
    report = evaluate(
        load_dataset("meetup_portland", data_dir),
        group_method_names=["random", "tfidf"],
        peer_method_names=["random"],
        progress=False,
    )
    methods = report["groups"]["methods"]
    assert methods["tfidf"]["ndcg@10"] > methods["random"]["ndcg@10"]


def test_the_same_seed_gives_the_same_numbers(data_dir):
    dataset = load_dataset("meetup_montana", data_dir)
    first = evaluate(dataset, "validation", seed=5, progress=False)
    second = evaluate(dataset, "validation", seed=5, progress=False)
    for report in (first, second):
        for section in ("groups", "peers"):
            for metrics in report[section]["methods"].values():
                metrics.pop("fit_seconds")
                metrics.pop("rank_ms_per_task")
    assert first == second


def test_settings_are_chosen_by_their_validation_score(data_dir):
    settings = [{"diversity": 0.0}, {"diversity": 0.9}]
    best, scored = choose_on_validation(load_dataset("meetup_montana", data_dir), settings)
    assert [params for params, _ in scored] == settings
    assert best == max(scored, key=lambda pair: pair[1])[0]


def test_kindred_evaluate_writes_json_and_png_and_prints_the_table(data_dir, tmp_path):
    out = tmp_path / "evaluation"
    result = CliRunner().invoke(
        main,
        [
            *("evaluate", "--data-dir", str(data_dir), "--dataset", "all", "--out", str(out)),
            *("--split", "validation", "--param", "diversity=0.0", "--quiet"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    tables = json.loads(result.stdout)
    assert set(tables) == set(DATASET_NAMES)
    assert tables["meetup_portland"]["matcher_params"] == {"diversity": 0.0}
    for name in DATASET_NAMES:
        assert (out / f"{name}.json").exists()
        assert (out / f"{name}.png").exists()


def test_kindred_evaluate_names_a_missing_data_folder(tmp_path):
    result = CliRunner().invoke(
        main, ["evaluate", "--data-dir", str(tmp_path), "--dataset", "meetup_montana", "--quiet"]
    )
    assert result.exit_code != 0
    assert "meetup_montana" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("name", DATASET_NAMES)
def test_real_data_evaluates_with_the_documented_protocol(name, tmp_path):
    if not (SHARED_DATA / name).is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA / name} (set KINDRED_SHARED_DATA)")
    report = evaluate(load_dataset(name, SHARED_DATA), "test", seed=0, progress=False)
    protocol, methods = report["groups"]["protocol"], report["groups"]["methods"]
    assert_metrics_in_range(methods)
    expected_tasks = {"meetup_portland": 418, "meetup_montana": 615, "nyc_service_volunteer": 6}
    assert protocol["members_or_queries"] == expected_tasks[name]
    # The README's sanity runs: popularity beats random on Meetup, text beats random on NYC.
    best_informed = "tfidf" if name == "nyc_service_volunteer" else "popularity"
    assert methods[best_informed]["ndcg@10"] > methods["random"]["ndcg@10"]
    write_report(report, tmp_path)
