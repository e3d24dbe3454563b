"""RQ entry points: thin functions that take ids, and call the same services the API calls."""

from __future__ import annotations

from service.services import events
from workers import context


def handle_event(event_id: int) -> str:
    return events.handle(context.kindred(), event_id)
