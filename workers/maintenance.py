"""Maintenance jobs run by the scheduler."""

from __future__ import annotations

import logging

from rq import get_current_job
from rq.registry import clean_registries

from workers.queues import ALL_QUEUES, queue

log = logging.getLogger(__name__)


def clean_job_registries() -> int:
    """Move jobs of dead workers out of the started registry, so they are retried or failed.

    RQ notices a killed worker's job only when something cleans its registries; running this
    often keeps that delay short.
    """
    connection = get_current_job().connection
    for name in ALL_QUEUES:
        clean_registries(queue(name, connection))
    return len(ALL_QUEUES)
