"""Metrics across processes: prometheus_client's multiprocess mode (gunicorn's workers, and
`kindred run`'s children, share PROMETHEUS_MULTIPROC_DIR) and a real `kindred worker` serving
its own metrics on KINDRED_METRICS_PORT, logging JSON lines that carry the request id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.api.test_email_notifications import free_port
from workers.queues import queue

pytestmark = pytest.mark.slow


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def python(code: str, env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_processes_sharing_the_multiprocess_folder_are_summed(tmp_path):
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    record = (
        "from service.observability import metrics\n"
        "metrics.JOB_FAILURES.labels(queue='matching').inc()\n"
        "metrics.HTTP_REQUEST_SECONDS.labels(route='/readyz', method='GET', status='200')"
        ".observe(0.01)\n"
    )
    python(record, env)
    python(record, env)
    text = python(
        "import sys\nfrom service.observability import metrics\n"
        "sys.stdout.write(metrics.exposition().decode())",
        env,
    )
    found = samples(text)
    assert found[("kindred_job_failures_total", (("queue", "matching"),))] == 2
    route = (("method", "GET"), ("route", "/readyz"), ("status", "200"))
    assert found[("kindred_http_request_duration_seconds_count", route)] == 2


def scrape(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return samples(response.read().decode())


def test_a_worker_serves_its_own_metrics_and_logs_json_with_the_request_id(kindred, tmp_path):
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=kindred.settings.database_url,
        REDIS_URL=kindred.settings.redis_url,
        KINDRED_VAR_DIR=str(tmp_path),
        SECRET_KEY="test-secret-key",
        KINDRED_METRICS_PORT=str(port),
        KINDRED_METRICS_ADDR="127.0.0.1",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("KINDRED_LOG_FORMAT", None)  # `kindred worker` logs JSON by default
    stderr = tmp_path / "worker.log"
    with stderr.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker", "--queue", "maintenance"],
            env=env,
            stderr=log,
        )
    try:
        queue("maintenance", kindred.redis).enqueue(
            "json.loads", "not json", meta={"request_id": "req-from-the-api-1"}
        )
        failed = ("kindred_job_failures_total", (("queue", "maintenance"),))
        deadline = time.monotonic() + 30
        found = {}
        while time.monotonic() < deadline and found.get(failed) != 1:
            time.sleep(0.2)
            try:
                found = scrape(port)
            except OSError:
                continue
        assert found.get(failed) == 1
        assert found[("kindred_job_duration_seconds_count", (("queue", "maintenance"),))] == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    lines = [json.loads(line) for line in stderr.read_text().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["request_id"] == "req-from-the-api-1" for line in lines)
