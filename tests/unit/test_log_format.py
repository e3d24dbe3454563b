"""KINDRED_LOG_FORMAT: JSON or text, gunicorn's own lines included; sane request ids only."""

from __future__ import annotations

import json
import logging

from gunicorn.config import Config
from pythonjsonlogger.json import JsonFormatter

from service.adapters.access_log import RedactingLogger
from service.observability import logs


def test_the_format_is_chosen_by_the_variable(monkeypatch):
    monkeypatch.delenv(logs.FORMAT_VARIABLE, raising=False)
    assert logs.log_format() == "text" and logs.log_format("json") == "json"
    monkeypatch.setenv(logs.FORMAT_VARIABLE, "JSON")
    assert logs.log_format() == "json"
    monkeypatch.setenv(logs.FORMAT_VARIABLE, "yaml")  # unknown: the default
    assert logs.log_format("text") == "text"


def test_gunicorn_logs_json_when_asked(monkeypatch):
    monkeypatch.setenv(logs.FORMAT_VARIABLE, "json")
    logger = RedactingLogger(Config())
    handlers = [h for h in logger.error_log.handlers if getattr(h, "_gunicorn", False)]
    assert handlers and all(isinstance(h.formatter, JsonFormatter) for h in handlers)
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "GET /x 200", (), None)
    assert json.loads(handlers[0].formatter.format(record))["message"] == "GET /x 200"


def test_gunicorn_keeps_its_text_otherwise(monkeypatch):
    monkeypatch.setenv(logs.FORMAT_VARIABLE, "text")
    logger = RedactingLogger(Config())
    handlers = logger.error_log.handlers + logger.access_log.handlers  # and nobody else's
    assert not any(isinstance(h.formatter, JsonFormatter) for h in handlers)


def test_only_sane_request_ids_are_kept():
    assert logs.sane_request_id("abc-123") == "abc-123"
    for insane in (None, "", "a b", "x" * 37, "ann@example.org", "\n"):
        assert len(logs.sane_request_id(insane)) == 32
