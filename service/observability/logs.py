"""Log lines as JSON or text, each carrying the request id of what it is part of.

The request id is taken from X-Request-ID when it is a sane token, else made up (see
`service.observability.web`); it is kept on the outbox events the request records, handed to
the jobs that handle them (RQ job meta), and set again while a worker runs one, so a request's
log lines and its jobs' lines share it, on whatever machine they run. Events a job records
inherit it too (a match request's "ready" note and its email carry the id of the request).

A log record factory puts `request_id` on every record (None outside a request or job), so any
handler and formatter can use it, including the ones tests install.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import sys
import uuid
from collections.abc import Iterator

from pythonjsonlogger.json import JsonFormatter

FORMAT_VARIABLE = "KINDRED_LOG_FORMAT"
FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"
JSON_FIELDS = ("levelname", "name", "message", "request_id")

# Letters, digits and a few separators, at most 36 (a UUID; the column's width): what proxies
# and load balancers send. Anything else is replaced, never logged.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,35}")

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "kindred_request_id", default=None
)


def current_request_id() -> str | None:
    return _request_id.get()


def sane_request_id(candidate: str | None) -> str:
    """The caller's id if it is a sane token, else a new one (32 hex digits)."""
    if candidate and SANE_REQUEST_ID.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


def set_request_id(value: str | None) -> contextvars.Token:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


@contextlib.contextmanager
def request_id_context(value: str | None) -> Iterator[None]:
    token = _request_id.set(value)
    try:
        yield
    finally:
        _request_id.reset(token)


def _install_record_factory() -> None:
    previous = logging.getLogRecordFactory()
    if getattr(previous, "kindred_request_id", False):
        return  # once per process, however many apps are made

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = _request_id.get()
        return record

    factory.kindred_request_id = True
    logging.setLogRecordFactory(factory)


_install_record_factory()


def log_format(default: str = "text") -> str:
    chosen = (os.environ.get(FORMAT_VARIABLE) or default).strip().lower()
    return chosen if chosen in FORMATS else default


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            JSON_FIELDS,
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601, UTC
            defaults={"request_id": None},
        )
    return _TextFormatter(TEXT_FORMAT)


class _TextFormatter(logging.Formatter):
    """The usual line, with " [request id]" after the logger's name when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_tag = f" [{request_id}]" if request_id else ""
        return super().format(record)


def configure(level: str | int = "INFO", fmt: str | None = None) -> None:
    """Log to stderr in `fmt` (KINDRED_LOG_FORMAT, else text), like logging.basicConfig: a
    process whose logging is already set up (a test run, an embedding program) is left alone."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt or log_format()))
    root.addHandler(handler)
    root.setLevel(level)
