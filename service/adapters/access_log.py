"""gunicorn's access log without the secrets some paths carry.

A sign-in link (/me/sign-in/<token>) and a private calendar feed (/me/calendar/<token>.ics) are
credentials in a URL; calendar apps fetch the feed again and again. The access log keeps the
request, with the token replaced.
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

SECRET_IN_PATH = re.compile(r"(/me/(?:sign-in|calendar)/)[^/?\s]+")
PATH_ATOMS = ("r", "U", "f")  # request line, path, referer


def redact(text: str) -> str:
    return SECRET_IN_PATH.sub(r"\1[redacted]", text)


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        from service.observability import logs

        if logs.log_format() == "json":  # `kindred serve`: gunicorn's own lines as JSON too
            formatter = logs.formatter("json")
            for logger in (self.error_log, self.access_log):
                for handler in logger.handlers:
                    if getattr(handler, "_gunicorn", False):  # its own, not anyone else's
                        handler.setFormatter(formatter)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in PATH_ATOMS:
            if isinstance(atoms.get(name), str):
                atoms[name] = redact(atoms[name])
        return atoms
