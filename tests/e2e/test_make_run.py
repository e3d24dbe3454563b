"""`kindred run` (what `make run` starts) on the embedded default, as a newcomer would use it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support import free_port

START_TIMEOUT_SECONDS = 120


def fetch(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until_ready(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"kindred run exited early:\n{log.read_text()[-3000:]}")
        try:
            if fetch(f"{base}/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"/readyz never answered:\n{log.read_text()[-3000:]}")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_run_serves_demo_data_runs_jobs_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(KINDRED_VAR_DIR=str(tmp_path / "var"), KINDRED_PORT=str(port))
    log = tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_ready(base, process, log)
        assert fetch(f"{base}/openapi.json")[0] == 200
        assert fetch(f"{base}/docs")[0] == 200
        assert b"Welcome to kindred" in fetch(f"{base}/")[1]
        for form in ("/dashboard/login", "/me/join", "/me/sign-in", "/partner/sign-in"):
            status, html = fetch(f"{base}{form}")
            assert status == 200 and b'name="csrf_token"' in html, form
        creds = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
        status, body = fetch(f"{base}/api/v1/listings?page_size=100", creds["coordinator"]["token"])
        assert status == 200 and len(json.loads(body)) == 60
        printed = log.read_text()
        assert "coordinator@kindred.example" in printed and creds["coordinator"]["token"] in printed
        # The scheduler's first registry clean-up runs on the worker within seconds.
        deadline = time.monotonic() + 30
        while "Successfully completed workers.maintenance.clean_job_registries" not in printed:
            assert time.monotonic() < deadline, printed[-3000:]
            time.sleep(0.5)
            printed = log.read_text()
        # One /metrics for gunicorn's workers and the worker (a shared multiprocess folder).
        status, metrics = fetch(f"{base}/metrics")
        assert status == 200 and b'kindred_queue_jobs{queue="maintenance"' in metrics
        assert b'kindred_job_duration_seconds_count{queue="maintenance"}' in metrics
        status, body = fetch(f"{base}/readyz")
        assert status == 200 and json.loads(body)["checks"]["scheduler"] == "ok"
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        process.wait(timeout=40)
    deadline = time.monotonic() + 10
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not group_alive(process.pid), "a child process outlived Ctrl-C"
    assert (tmp_path / "var" / "kindred.db").exists()
