"""Small helpers several test packages share."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port free right now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
