"""The wired service for this worker process, built once on first use (never at import).

`kindred worker` runs jobs in its own process. Anything that forks after the service was
wired (RQ's default forking worker, a test) inherits its pooled database connections; using
them from two processes corrupts them, so a forked child drops the inherited pool (without
closing the parent's sockets) and opens its own.
"""

from __future__ import annotations

import os

from service.bootstrap import Kindred, bootstrap

_kindred: Kindred | None = None
_owner_pid: int | None = None


def kindred() -> Kindred:
    global _kindred, _owner_pid
    if _kindred is None:
        _kindred = bootstrap()
        _owner_pid = os.getpid()
    elif _owner_pid != os.getpid():
        _kindred.engine.dispose(close=False)
        _owner_pid = os.getpid()
    return _kindred


def use(wired: Kindred) -> None:
    """Run jobs in this process against an already wired service (tests, `kindred worker`)."""
    global _kindred, _owner_pid
    _kindred, _owner_pid = wired, os.getpid()
