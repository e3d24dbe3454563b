"""RQ entry points: thin functions that take ids, and call the same services the API calls."""

from __future__ import annotations

import os
import time

from service.services import events
from workers import context

# Fault injection for the kill -9 tests only: a pause before or after an event's handler, so a
# test can kill a worker in the middle of a job. Never set in production.
FAULT_DELAY_BEFORE = "KINDRED_FAULT_DELAY_BEFORE_SECONDS"
FAULT_DELAY_AFTER = "KINDRED_FAULT_DELAY_AFTER_SECONDS"


def handle_event(event_id: int) -> str:
    _fault_delay(FAULT_DELAY_BEFORE)
    outcome = events.handle(context.kindred(), event_id)
    _fault_delay(FAULT_DELAY_AFTER)
    return outcome


def _fault_delay(variable: str) -> None:
    seconds = float(os.environ.get(variable) or 0)
    if seconds > 0:
        time.sleep(seconds)
