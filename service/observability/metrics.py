"""Prometheus metrics: what each process records, and the exposition a scrape reads.

Counters and histograms live in the process that observes them: gunicorn's workers (HTTP), RQ
workers (jobs, emails, matcher fits). With PROMETHEUS_MULTIPROC_DIR set (before the process
starts) prometheus_client keeps them in files in that folder, and a scrape of any process that
shares the folder sums them all; gunicorn needs it, since each scrape reaches one of its workers.
Queue depths are read from Redis when scraped, by the API only: every worker would report the
same numbers.

Labels never hold a raw path, an id or anything a person typed: routes are Flask's url rules.
"""

from __future__ import annotations

import logging
import os

import redis
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

HTTP_REQUEST_SECONDS = Histogram(
    "kindred_http_request_duration_seconds",
    "Time to answer an HTTP request, by route (Flask's url rule), method and status.",
    ["route", "method", "status"],
)
JOB_SECONDS = Histogram(
    "kindred_job_duration_seconds",
    "Time to run one RQ job in a worker, by queue.",
    ["queue"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOB_FAILURES = Counter(
    "kindred_job_failures",
    "Job runs that raised (each failed attempt, retried or not), by queue.",
    ["queue"],
)
NOTIFICATIONS_SENT = Counter(
    "kindred_notifications_sent", "Notifications delivered, by channel.", ["channel"]
)
NOTIFICATIONS_FAILED = Counter(
    "kindred_notifications_failed",
    "Notification delivery attempts that failed (retried with backoff), by channel.",
    ["channel"],
)
MATCHER_FIT_SECONDS = Histogram(
    "kindred_matcher_fit_seconds",
    "Time to fit the group and peer matchers in a worker (after the data changed).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160),
)
MATCHER_LOADS = Counter(
    "kindred_matcher_loads",
    "Fitted matchers a worker loaded from the model store instead of fitting them itself.",
)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR))


def process_registry() -> CollectorRegistry:
    """What this process (or, in multiprocess mode, every process sharing the folder) recorded."""
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


class QueueDepthCollector:
    """Jobs in each RQ queue by state, read from Redis at scrape time."""

    def __init__(self, connection: redis.Redis):
        self._connection = connection

    def collect(self):
        from workers.health import queue_depths

        jobs = GaugeMetricFamily(
            "kindred_queue_jobs",
            "RQ jobs per queue and state (waiting, running, scheduled: waiting out a retry's "
            "backoff, failed: dead letters).",
            labels=["queue", "state"],
        )
        up = GaugeMetricFamily("kindred_redis_up", "1 if Redis answered this scrape.")
        try:
            depths = queue_depths(self._connection)
        except redis.exceptions.RedisError as error:
            log.warning("queue depths unavailable: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        for depth in depths:
            for state in ("waiting", "running", "scheduled", "failed"):
                jobs.add_metric([depth.name, state], getattr(depth, state))
        up.add_metric([], 1)
        yield jobs
        yield up


def exposition(connection: redis.Redis | None = None) -> bytes:
    """The text a scrape reads: this process's (or all processes') metrics, and queue depths."""
    body = generate_latest(process_registry())
    if connection is not None:
        queues = CollectorRegistry(auto_describe=False)
        queues.register(QueueDepthCollector(connection))
        body += generate_latest(queues)
    return body


def serve_on_port(port: int, addr: str = "0.0.0.0") -> None:
    """`kindred worker`'s own endpoint (KINDRED_METRICS_PORT), in a daemon thread."""
    start_http_server(port, addr=addr, registry=process_registry())
    log.info("metrics on %s:%d/metrics", addr, port)
