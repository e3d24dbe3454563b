"""The scheduler process: periodic jobs as JSON, and delayed retries moved onto their queues."""

from __future__ import annotations

from datetime import timedelta

from rq.job import JobStatus

from workers.queues import MAINTENANCE, MATCHING, queue
from workers.scheduler import build_scheduler


def test_periodic_jobs_are_enqueued_as_json_for_kindreds_workers(kindred):
    scheduler = build_scheduler(kindred.redis)
    enqueued = scheduler.enqueue_jobs()  # interval jobs are due at start
    names = {job.func_name.rsplit(".", 1)[-1] for job in enqueued}
    interval_jobs = {
        "clean_job_registries",
        "sweep_outbox",
        "start_due_rematches",
        "start_weekly_rounds",
        "send_reminders",
        "send_follow_ups",
        "offer_connection_checkins",
    }
    assert names == interval_jobs
    jobs = queue(MAINTENANCE, kindred.redis).jobs  # readable with the JSON serializer
    assert {job.func_name for job in jobs} == {f"workers.maintenance.{n}" for n in interval_jobs}


def test_a_retry_whose_wait_is_over_is_put_back_on_its_queue(kindred):
    matching = queue(MATCHING, kindred.redis)
    later = matching.enqueue_in(timedelta(seconds=60), "builtins.len", "abc", job_id="waits")
    due = matching.enqueue_in(timedelta(seconds=0), "builtins.len", "abc", job_id="due")
    assert due.get_status() == JobStatus.SCHEDULED
    build_scheduler(kindred.redis).enqueue_jobs()
    assert matching.job_ids == ["due"]
    assert later.get_status() == JobStatus.SCHEDULED
    assert build_scheduler(kindred.redis).calculate_sleep_interval() <= 1.0
