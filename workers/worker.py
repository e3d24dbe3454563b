"""Start an RQ worker on kindred's queues."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time

import redis
from redis import Redis
from rq import SimpleWorker
from rq.worker import WorkerStatus

from service.adapters.publisher import REQUEST_ID_META
from service.adapters.redis_connection import wait_until_reachable
from service.observability import metrics
from service.observability.logs import request_id_context
from workers.queues import ALL_QUEUES, SERIALIZER, queue

log = logging.getLogger(__name__)

# How often a busy worker says it is alive; a job is reclaimed soon after the heartbeats stop.
JOB_MONITORING_SECONDS = 5
# An idle worker blocks on the queues for worker_ttl - 15 s between heartbeats (RQ's default of
# 420 s would leave the dashboard unable to tell an idle worker from a dead one for 7 minutes).
WORKER_TTL_SECONDS = 60
RECLAIM_MARGIN_SECONDS = 10
# A worker that quit on its own (Redis lost mid-job) is replaced after this pause at least.
RESTART_PAUSE_SECONDS = 1


class KindredWorker(SimpleWorker):
    """RQ's worker, running each job in its own process, with a short heartbeat lease.

    RQ's default worker forks a fresh "work horse" per job. Each horse starts cold: SQLAlchemy
    configures its mappers and compiles its statements again, and the database connection is
    opened again, about 100 ms a job before any work (measured: an 11 ms job took 95 ms). Here
    jobs run in the worker itself, warm, and the fitted matchers live where they are used.

    What the fork gave for free is kept by hand: a thread renews the job's lease every 5 s
    while it runs, so a job is reclaimed ~15-45 s after its worker is killed with -9 (the
    registry clean-up runs every 30 s) but never while it is alive, however long it takes.
    Job timeouts still apply (SIGALRM in this process, as in a horse).
    """

    asked_to_stop = False

    def request_stop(self, signum, frame):
        self.asked_to_stop = True  # SIGTERM or Ctrl+C: not a worker that lost Redis
        super().request_stop(signum, frame)

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - working_time
            return int(min(remaining, self.job_monitoring_interval)) + RECLAIM_MARGIN_SECONDS
        return self.job_monitoring_interval + RECLAIM_MARGIN_SECONDS

    def execute_job(self, job, queue):
        execution = self.prepare_execution(job)
        # The job's log lines carry the id of the request that caused it (set by the publisher).
        with _Lease(self, job, execution), request_id_context(job.meta.get(REQUEST_ID_META)):
            started = time.perf_counter()
            succeeded = self.perform_job(job, queue, execution)
            metrics.JOB_SECONDS.labels(queue=queue.name).observe(time.perf_counter() - started)
            if not succeeded:
                metrics.JOB_FAILURES.labels(queue=queue.name).inc()
        self.set_state(WorkerStatus.IDLE)


class _Lease:
    """Renews a running job's heartbeat from a thread until the job is over."""

    def __init__(self, worker: KindredWorker, job, execution):
        self._worker, self._job, self._execution = worker, job, execution
        self._over = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="job-lease", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._over.set()
        self._thread.join()

    def _renew(self) -> None:
        while not self._over.wait(self._worker.job_monitoring_interval):
            try:
                self._worker.maintain_heartbeats(self._job, self._execution)
            except Exception:  # Redis briefly away: the next beat tries again
                log.warning("could not renew the lease of job %s", self._job.id, exc_info=True)


def build_worker(connection: Redis, queue_names=ALL_QUEUES, name: str | None = None):
    return KindredWorker(
        [queue(q, connection) for q in queue_names],
        connection=connection,
        serializer=SERIALIZER,
        name=name,
        job_monitoring_interval=JOB_MONITORING_SECONDS,
        worker_ttl=WORKER_TTL_SECONDS,
    )


def run(connection: Redis, queue_names=ALL_QUEUES, burst: bool = False) -> None:
    """`kindred worker`: work until asked to stop, whatever happens to Redis meanwhile.

    RQ's worker waits for Redis while it waits for a job, but quits when Redis goes away while
    it takes, runs or finishes one ("found an unhandled exception, quitting"). Then a new worker
    starts as soon as Redis answers again. The interrupted job is reclaimed and retried like a
    killed worker's (or re-published by the outbox sweep if Redis lost it); handlers are
    idempotent, so it still has its effects once.
    """
    while True:
        worker = build_worker(connection, queue_names)
        # RQ's goodbye after it quit may fail too, Redis still away (RQ logged why it quit).
        with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
            worker.work(burst=burst, with_scheduler=False)
        if burst or worker.asked_to_stop:
            return
        log.error("worker %s quit without being asked to; a new one starts", worker.name)
        stop_on_signals()
        time.sleep(RESTART_PAUSE_SECONDS)  # whatever made it quit, never a tight loop
        wait_until_reachable(connection)


def stop_on_signals() -> None:
    """Between RQ's own handlers (a process waiting for Redis): SIGTERM or Ctrl+C exits."""

    def leave(signum, frame):
        raise SystemExit(0)

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, leave)
