"""Start an RQ worker on kindred's queues."""

from __future__ import annotations

import logging
import threading

from redis import Redis
from rq import SimpleWorker
from rq.worker import WorkerStatus

from workers.queues import ALL_QUEUES, SERIALIZER, queue

log = logging.getLogger(__name__)

# How often a busy worker says it is alive; a job is reclaimed soon after the heartbeats stop.
JOB_MONITORING_SECONDS = 5
# An idle worker blocks on the queues for worker_ttl - 15 s between heartbeats (RQ's default of
# 420 s would leave the dashboard unable to tell an idle worker from a dead one for 7 minutes).
WORKER_TTL_SECONDS = 60
RECLAIM_MARGIN_SECONDS = 10


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

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - working_time
            return int(min(remaining, self.job_monitoring_interval)) + RECLAIM_MARGIN_SECONDS
        return self.job_monitoring_interval + RECLAIM_MARGIN_SECONDS

    def execute_job(self, job, queue):
        execution = self.prepare_execution(job)
        with _Lease(self, job, execution):
            self.perform_job(job, queue, execution)
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
