"""Retry waits double each time, each moved by up to 20% so failing jobs do not return together."""

from service.adapters.publisher import backoff_with_jitter, job_id


def test_waits_double_within_a_fifth_either_way():
    for _ in range(200):
        waits = backoff_with_jitter(5, 5)
        assert len(waits) == 5
        for n, wait in enumerate(waits):
            nominal = 5 * 2**n
            assert 0.8 * nominal - 0.5 <= wait <= 1.2 * nominal + 0.5


def test_jitter_spreads_jobs_that_fail_together():
    firsts = {tuple(backoff_with_jitter(5, 5)) for _ in range(50)}
    assert len(firsts) > 10


def test_the_job_id_is_made_from_the_event_id():
    assert job_id(42) == "event-42"
