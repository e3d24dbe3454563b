"""The access log never keeps a sign-in or calendar token from a URL."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config

from service.adapters.access_log import RedactingLogger, redact


def test_tokens_in_paths_are_replaced_and_other_paths_kept():
    assert redact("GET /me/sign-in/eyJ.abc.def HTTP/1.1") == "GET /me/sign-in/[redacted] HTTP/1.1"
    assert redact("/me/calendar/Wzk5LDAsMV0.sig.ics") == "/me/calendar/[redacted]"
    assert redact("GET /me/calendar HTTP/1.1") == "GET /me/calendar HTTP/1.1"
    assert redact("POST /me/sign-in HTTP/1.1") == "POST /me/sign-in HTTP/1.1"
    assert redact("/api/v1/listings?page=2") == "/api/v1/listings?page=2"


def test_gunicorns_access_line_carries_no_token():
    logger = RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/me/calendar/secret-token.ics",
        "PATH_INFO": "/me/calendar/secret-token.ics",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "https://kindred.example/me/sign-in/another-secret",
    }
    response = SimpleNamespace(status="200 OK", headers=[], sent=10)
    atoms = logger.atoms(response, SimpleNamespace(headers=[]), environ, timedelta(seconds=0))
    line = logger.cfg.access_log_format % atoms
    assert "secret-token" not in line and "another-secret" not in line
    assert "/me/calendar/[redacted]" in line
