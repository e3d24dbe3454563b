"""What a job's final failure leaves behind: a row coordinators can see, and a clear status."""

from __future__ import annotations

import logging

from service.adapters.orm import JobFailure
from workers import context

log = logging.getLogger(__name__)


def record_failure(job, connection, exception_type, exception, traceback) -> None:
    """RQ's failure callback. It runs after every failed attempt; only the last one counts."""
    if job.retries_left:
        return
    # The type and message only: arguments are ids, and a traceback could quote personal data.
    error = f"{exception_type.__name__}: {exception}"[:500]
    kindred = context.kindred()
    with kindred.uow(publish=False) as uow:
        uow.session.add(
            JobFailure(job_id=job.id, queue=job.origin, function=job.func_name or "?", error=error)
        )
        uow.commit()
    log.warning("job %s failed for good: %s", job.id, exception_type.__name__)
    if job.func_name == "workers.jobs.handle_event" and job.args:
        from service.services.events import on_final_failure

        on_final_failure(kindred, int(job.args[0]), error)
