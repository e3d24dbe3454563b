"""The periodic scheduler, on RQ's own cron (no rq-scheduler)."""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.cron import CronJob, CronScheduler

from workers.maintenance import clean_job_registries, start_due_rematches, sweep_outbox
from workers.queues import MAINTENANCE, SERIALIZER

REGISTRY_CLEANUP_SECONDS = 30
OUTBOX_SWEEP_SECONDS = 15
REMATCH_CHECK_SECONDS = 15


class JsonCronJob(CronJob):
    """RQ's CronJob enqueues with the default (pickle) serializer; kindred's workers read JSON."""

    def enqueue(self, connection: Redis):
        queue = Queue(self.queue_name, connection=connection, serializer=SERIALIZER)
        return queue.enqueue(self.func, args=self.args, kwargs=self.kwargs, **self.job_options)


class KindredScheduler(CronScheduler):
    def add(self, func, queue_name: str, **options) -> JsonCronJob:
        job = JsonCronJob(queue_name=queue_name, func=func, **options)
        self._cron_jobs.append(job)
        return job


def build_scheduler(connection: Redis) -> KindredScheduler:
    scheduler = KindredScheduler(connection=connection, name="kindred-scheduler")
    scheduler.add(
        clean_job_registries, MAINTENANCE, interval=REGISTRY_CLEANUP_SECONDS, job_timeout=60
    )
    scheduler.add(sweep_outbox, MAINTENANCE, interval=OUTBOX_SWEEP_SECONDS, job_timeout=60)
    scheduler.add(start_due_rematches, MAINTENANCE, interval=REMATCH_CHECK_SECONDS, job_timeout=120)
    return scheduler
