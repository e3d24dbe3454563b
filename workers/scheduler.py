"""The periodic scheduler, on RQ's own cron (no rq-scheduler), and the mover of delayed jobs.

Exactly one `kindred scheduler` runs. Besides the periodic jobs it moves due delayed jobs
(retries waiting out their backoff) onto their queues, every second. RQ can do that in a child
of each worker, but its lock outlives a worker killed with -9 and a healthy worker only claims
it again in its 10-minute maintenance, so retries would stall; one mover here has no lock to
lose, and a restart (compose, systemd) resumes it at once.
"""

from __future__ import annotations

import logging

import redis
from redis import Redis
from rq import Queue
from rq.cron import CronJob, CronScheduler
from rq.scheduler import RQScheduler

from service.adapters.redis_connection import wait_until_reachable
from workers.maintenance import (
    apply_retention,
    clean_job_registries,
    expire_stale_suggestions,
    offer_connection_checkins,
    send_follow_ups,
    send_reminders,
    start_due_rematches,
    start_weekly_rounds,
    sweep_outbox,
)
from workers.queues import ALL_QUEUES, MAINTENANCE, SERIALIZER
from workers.worker import stop_on_signals

log = logging.getLogger(__name__)

REGISTRY_CLEANUP_SECONDS = 30
OUTBOX_SWEEP_SECONDS = 15
REMATCH_CHECK_SECONDS = 15
# Digests are due at 09:00 local time, reminders a day ahead: a minute, five, is close enough.
WEEKLY_ROUNDS_SECONDS = 60
REMINDERS_SECONDS = 300
# Follow-ups wait for the member's daytime; checking every ten minutes finds it soon enough.
FOLLOW_UPS_SECONDS = 600
# The monthly check-in offer waits for 09:00 local and the end of quiet hours: hourly is enough.
CHECKIN_OFFERS_SECONDS = 3600
DELAYED_JOBS_CHECK_SECONDS = 1.0


class JsonCronJob(CronJob):
    """RQ's CronJob enqueues with the default (pickle) serializer; kindred's workers read JSON."""

    def enqueue(self, connection: Redis):
        queue = Queue(self.queue_name, connection=connection, serializer=SERIALIZER)
        return queue.enqueue(self.func, args=self.args, kwargs=self.kwargs, **self.job_options)


class KindredScheduler(CronScheduler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._delayed = RQScheduler(list(ALL_QUEUES), self.connection, serializer=SERIALIZER)
        self._delayed.prepare_registries(list(ALL_QUEUES))

    def add(self, func, queue_name: str, **options) -> JsonCronJob:
        job = JsonCronJob(queue_name=queue_name, func=func, **options)
        self._cron_jobs.append(job)
        return job

    def enqueue_jobs(self) -> list[CronJob]:
        self._delayed.enqueue_scheduled_jobs()  # retries whose wait is over
        return super().enqueue_jobs()

    def calculate_sleep_interval(self) -> float:
        return min(super().calculate_sleep_interval(), DELAYED_JOBS_CHECK_SECONDS)


def build_scheduler(connection: Redis) -> KindredScheduler:
    scheduler = KindredScheduler(connection=connection, name="kindred-scheduler")
    scheduler.add(
        clean_job_registries, MAINTENANCE, interval=REGISTRY_CLEANUP_SECONDS, job_timeout=60
    )
    scheduler.add(sweep_outbox, MAINTENANCE, interval=OUTBOX_SWEEP_SECONDS, job_timeout=60)
    scheduler.add(start_due_rematches, MAINTENANCE, interval=REMATCH_CHECK_SECONDS, job_timeout=120)
    scheduler.add(start_weekly_rounds, MAINTENANCE, interval=WEEKLY_ROUNDS_SECONDS, job_timeout=600)
    scheduler.add(send_reminders, MAINTENANCE, interval=REMINDERS_SECONDS, job_timeout=300)
    scheduler.add(send_follow_ups, MAINTENANCE, interval=FOLLOW_UPS_SECONDS, job_timeout=300)
    scheduler.add(
        offer_connection_checkins, MAINTENANCE, interval=CHECKIN_OFFERS_SECONDS, job_timeout=300
    )
    # Daily at 03:30 server time (cron strings are local time; containers run in UTC).
    scheduler.add(expire_stale_suggestions, MAINTENANCE, cron="30 3 * * *", job_timeout=300)
    scheduler.add(apply_retention, MAINTENANCE, cron="45 3 * * *", job_timeout=600)
    return scheduler


def run(connection: Redis) -> None:
    """`kindred scheduler`: schedule until asked to stop, whatever happens to Redis meanwhile.

    RQ's cron scheduler ends on the first command Redis does not answer; a new one starts as
    soon as Redis is back. It keeps no state (see the module docstring): it runs every periodic
    job at once, so the sweep publishes what the outage left in the outbox straight away.
    """
    while True:
        try:
            build_scheduler(connection).start()
            return  # stopped by SIGTERM or Ctrl+C
        except (redis.ConnectionError, redis.TimeoutError) as error:
            log.error("scheduler lost Redis (%s); it starts again when Redis is back", error)
        stop_on_signals()
        wait_until_reachable(connection)
