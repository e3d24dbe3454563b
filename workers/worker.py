"""Start an RQ worker on kindred's queues."""

from __future__ import annotations

import logging

from redis import Redis
from rq import Worker

from workers import context
from workers.queues import ALL_QUEUES, MATCHING, SERIALIZER, queue

log = logging.getLogger(__name__)

# How often a busy worker says it is alive; a job is reclaimed soon after the heartbeats stop.
JOB_MONITORING_SECONDS = 5
RECLAIM_MARGIN_SECONDS = 10


class KindredWorker(Worker):
    """RQ's worker, with a short heartbeat lease on the job it runs.

    RQ keeps a started job leased for the monitoring interval plus a fixed 60 s; a worker killed
    with -9 leaves its job "started" for that long before the registry clean-up may reclaim it.
    A 10 s margin over a 5 s heartbeat gets a killed job re-run within ~15-45 s (the clean-up
    runs every 30 s), while a live worker renews its lease well before it lapses.
    """

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - working_time
            return int(min(remaining, self.job_monitoring_interval)) + RECLAIM_MARGIN_SECONDS
        return self.job_monitoring_interval + RECLAIM_MARGIN_SECONDS

    def execute_job(self, job, queue):
        if queue.name == MATCHING:
            self._warm_matchers()
        super().execute_job(job, queue)

    @staticmethod
    def _warm_matchers() -> None:
        """Fit here, in the long-lived parent, when the data changed since the last fit.

        Each job runs in a freshly forked horse that dies afterwards; matchers fitted inside
        it would be fitted again for every job. Fitted here, every horse inherits them (copy on
        write) and finds them current.
        """
        try:
            kindred = context.kindred()
            with kindred.uow(publish=False) as uow:
                kindred.matchers.get(uow.session)
        except Exception:  # the horse can still fit for itself; the job must not be lost
            log.exception("could not prepare the matchers before a matching job")


def build_worker(connection: Redis, queue_names=ALL_QUEUES, name: str | None = None) -> Worker:
    return KindredWorker(
        [queue(q, connection) for q in queue_names],
        connection=connection,
        serializer=SERIALIZER,
        name=name,
        job_monitoring_interval=JOB_MONITORING_SECONDS,
    )
