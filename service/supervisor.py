"""`kindred run`: the whole service on one machine, stopped together by Ctrl-C.

Starts the embedded Redis (unless REDIS_URL names a server), applies migrations, adds demo data
to an empty database, then runs the API (gunicorn), one worker and the scheduler as child
processes. If any child dies, everything stops, so a half-running service never looks healthy.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from service.adapters.migrations import upgrade
from service.adapters.redis_connection import socket_url, start_embedded
from service.bootstrap import bootstrap
from service.cli import gunicorn_args
from service.config import Settings
from service.demo.seed import credentials_path, is_seeded, seed_demo
from service.observability.logs import FORMAT_VARIABLE
from service.observability.metrics import MULTIPROC_DIR

STOP_GRACE_SECONDS = 20


def run_all(port: int, seed: bool) -> int:
    settings = Settings.from_env()
    embedded = None
    env = dict(os.environ, KINDRED_VAR_DIR=str(settings.var_dir))
    # Links in emails (sign-in, calendar) point at this server unless told otherwise.
    env.setdefault("KINDRED_PUBLIC_URL", f"http://127.0.0.1:{port}")
    # On a laptop: text logs, and one /metrics for gunicorn's workers, the worker and the
    # scheduler (they share prometheus_client's multiprocess folder, emptied at each start).
    env.setdefault(FORMAT_VARIABLE, "text")
    if not env.get(MULTIPROC_DIR):
        env[MULTIPROC_DIR] = str(_empty_metrics_dir(settings.var_dir / "prometheus"))
    if settings.uses_embedded_redis:
        embedded = start_embedded(settings.var_dir)
        env["REDIS_URL"] = socket_url(embedded)
        os.environ["REDIS_URL"] = env["REDIS_URL"]
    try:
        upgrade(settings.database_url)
        kindred = bootstrap()
        if seed and not is_seeded(kindred):
            print("first start: adding demo data", flush=True)
            seed_demo(kindred)
        kindred.close()
        children = _start_children(port, env)
        _print_welcome(port, kindred)
        return _watch(children)
    finally:
        if embedded is not None:
            embedded.shutdown()


def _empty_metrics_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _start_children(port: int, env: dict) -> dict[str, subprocess.Popen]:
    python = sys.executable
    commands = {
        "api": [python, "-m", "gunicorn", *gunicorn_args("127.0.0.1", port, 2)],
        "worker": [python, "-m", "service.cli", "worker"],
        "scheduler": [python, "-m", "service.cli", "scheduler"],
    }
    return {name: subprocess.Popen(command, env=env) for name, command in commands.items()}


def _print_welcome(port: int, kindred) -> None:
    import json

    base = f"http://127.0.0.1:{port}"
    lines = [
        "",
        "kindred is running (Ctrl-C stops everything)",
        f"  dashboard:    {base}/dashboard   (coordinators)",
        f"  members:      {base}/me          partners: {base}/partner",
        f"  API:          {base}/api/v1",
        f"  API docs:     {base}/docs   (OpenAPI: {base}/openapi.json)",
        f"  health:       {base}/healthz  {base}/readyz   metrics: {base}/metrics",
    ]
    path = credentials_path(kindred)
    if path.exists():
        creds = json.loads(path.read_text())
        coordinator = creds["coordinator"]
        lines += [
            f"  coordinator:  {coordinator['email']} / {coordinator['password']}",
            f"  coordinator token: {coordinator['token']}",
            f"  partner keys (sign in at /partner) and member tokens: {path}",
            f"  member sign-in links are emailed into {kindred.settings.var_dir / 'mail'}",
        ]
    print("\n".join(lines) + "\n", flush=True)


def _watch(children: dict[str, subprocess.Popen]) -> int:
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    exit_code = 0
    try:
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; stopping kindred", flush=True)
                    exit_code = 1
                    stopping = True
            time.sleep(0.5)
    finally:
        _stop(children)
    return exit_code


def _stop(children: dict[str, subprocess.Popen]) -> None:
    # SIGTERM gives gunicorn and RQ their warm shutdown: finish the current request or job.
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
