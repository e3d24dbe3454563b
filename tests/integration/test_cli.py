"""The `kindred` command against a real database: coordinators, imports, demo data."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from service.adapters.orm import Listing
from service.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The shared data sets sit beside the repository (../shared/data); KINDRED_SHARED_DATA overrides.
SHARED_DATA = Path(
    os.environ.get("KINDRED_SHARED_DATA")
    or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
NYC_DATA = (
    SHARED_DATA
    / "nyc_service_volunteer"
    / "NYC_Service__Volunteer_Opportunities__Historical__20250626.csv"
)


@pytest.fixture
def run_cli(settings, monkeypatch):
    """Invoke `kindred ...` with this test's database and var folder in the environment."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("KINDRED_VAR_DIR", str(settings.var_dir))

    def run(*args: str):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        return result

    return run


def test_create_coordinator_prints_a_working_token(run_cli, kindred):
    result = run_cli(
        "create-coordinator",
        "--email",
        "c@example.org",
        "--name",
        "C",
        "--password",
        "long enough password",
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    from service.services.auth import authenticate

    assert authenticate(kindred.uow(), token).role.value == "coordinator"


def test_import_reports_loaded_and_skipped_rows(run_cli, kindred):
    csv_file = str(FIXTURES / "volunteer_sample.csv")
    result = run_cli("import-listings", csv_file, "--org", "NYC Service", "--create-org")
    assert result.exit_code == 0, result.output
    assert "loaded 2, already imported 0, skipped 3 of 5 rows" in result.output
    # Line numbers are where each record starts (row 102's address spans three lines).
    assert "line 6: no location" in result.output
    assert "line 7: no summary" in result.output
    assert "line 8: invalid: lat" in result.output
    with kindred.uow() as uow:
        listings = list(uow.session.scalars(sa.select(Listing).order_by(Listing.id)))
    assert [listing.title for listing in listings] == ["Reading Partner", "Park Clean-up Day"]
    # Imported for an unverified organization: each waits for a coordinator's review.
    assert {listing.status.value for listing in listings} == {"pending_review"}
    assert listings[1].sessions[0]["starts_at"].startswith("2011-04-16")


def test_import_twice_adds_nothing_twice(run_cli):
    csv_file = str(FIXTURES / "volunteer_sample.csv")
    run_cli("import-listings", csv_file, "--org", "NYC Service", "--create-org")
    again = run_cli("import-listings", csv_file, "--org", "NYC Service")
    assert "loaded 0, already imported 2, skipped 3 of 5 rows" in again.output


def test_import_needs_an_existing_organization_unless_asked(run_cli):
    result = run_cli("import-listings", str(FIXTURES / "volunteer_sample.csv"), "--org", "Nobody")
    assert result.exit_code != 0
    assert "--create-org" in result.output


@pytest.mark.slow
def test_import_the_real_nyc_file(run_cli):
    if not NYC_DATA.exists():
        pytest.skip(f"shared data set not present at {NYC_DATA}")
    result = run_cli("import-listings", str(NYC_DATA), "--org", "NYC Service", "--create-org")
    assert result.exit_code == 0, result.output
    loaded = int(re.search(r"loaded (\d+),", result.output).group(1))
    # 595 of the 665 rows carry coordinates (383 in columns, 212 in the address text).
    assert loaded >= 590, result.output


def test_seed_demo_builds_a_plausible_city(run_cli, kindred):
    result = run_cli("seed-demo", "--members", "40", "--listings", "40")
    assert result.exit_code == 0, result.output
    with kindred.uow() as uow:
        session = uow.session
        statuses = dict(
            session.execute(
                sa.select(Listing.status, sa.func.count()).group_by(Listing.status)
            ).all()
        )
        kinds = set(session.scalars(sa.select(Listing.kind).distinct()))
        assert uow.members.count() == 40
    assert sum(statuses.values()) == 40
    assert statuses[next(s for s in statuses if s.value == "pending_review")] == 4
    assert len(kinds) == 5
    creds = os.path.join(kindred.settings.var_dir, "demo-credentials.json")
    assert oct(os.stat(creds).st_mode & 0o777) == "0o600"
    again = run_cli("seed-demo", "--if-empty")
    assert "already has data" in again.output
    assert run_cli("seed-demo").exit_code != 0


def test_dead_jobs_are_listed_and_requeued(run_cli, kindred):
    from tests.integration.api.conftest import run_worker
    from workers.queues import queue

    matching = queue("matching", kindred.redis)
    matching.enqueue("builtins.int", "not a number", job_id="broken-1")  # fails: ValueError
    run_worker(kindred)  # restores the signal handlers RQ installs

    listed = run_cli("jobs", "failed")
    assert listed.exit_code == 0, listed.output
    assert "broken-1\tmatching\tbuiltins.int" in listed.output
    assert "ValueError" in listed.output and "1 failed job(s)" in listed.output

    assert run_cli("jobs", "retry", "nope").exit_code != 0  # not a dead letter: said so
    retried = run_cli("jobs", "retry", "--all")
    assert retried.exit_code == 0 and "re-queued 1 job(s)" in retried.output
    assert matching.job_ids == ["broken-1"]
    assert "0 failed job(s)" in run_cli("jobs", "failed").output


def test_report_outcomes_writes_the_figures_of_groups_of_ten_only(run_cli, kindred, tmp_path):
    from tests.integration.outcome_world import NINE_GROUP_FIGURES, build_outcome_world

    world = build_outcome_world(kindred)
    out = tmp_path / "reports"
    result = run_cli("report", "outcomes", "--months", "6", "--out", str(out))
    assert result.exit_code == 0, result.output
    written = (out / "outcomes.json").read_text()
    report = json.loads(written)
    expected = world.expected
    assert report["second_visits"] == {"rows": expected["second_visits"], "withheld": 5}
    assert report["introductions"] == {"rows": expected["introductions"], "withheld": 5}
    assert report["attendance"]["rows"] == expected["attendance"]
    assert report["checkins"]["start_slowly"]["rows"] == expected["start_slowly"]
    assert report["checkins"]["others"]["rows"] == expected["others"]
    assert not [figure for figure in NINE_GROUP_FIGURES if figure in written + result.output]
    assert (out / "outcomes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"second visits: {world.month_a} 6/10 (60%)" in result.output
    assert str(out / "outcomes.json") in result.output


def test_report_outcomes_refuses_months_outside_1_to_24(run_cli):
    result = run_cli("report", "outcomes", "--months", "25")
    assert result.exit_code == 2 and "--months" in result.output
