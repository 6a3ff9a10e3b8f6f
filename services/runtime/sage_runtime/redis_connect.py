"""One way for services to reach Redis: a URL alone, or the primary found through Sentinel.

``redis_url`` always names the credentials and the database (``redis://user:pass@host:port/db``);
with ``sentinels`` (``host:port`` of Redis Sentinels) its host and port are ignored: the client
asks the sentinels for the primary of ``master_name`` and asks again after a failover (a lost or
read-only connection), so a service survives its primary's failover without a restart. The
sentinels are reached with the same user and password as Redis.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse


def _host_port(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.strip().rpartition(":")
    return host or "127.0.0.1", int(port or 26379)


def redis_async(
    url: str, sentinels: list[str] | None = None, master_name: str = "sage", **options: Any
) -> Any:
    """A ``redis.asyncio.Redis`` for ``url``, or for the primary the ``sentinels`` name."""
    import redis.asyncio as aioredis

    if not sentinels:
        return aioredis.from_url(url, **options)
    from redis.asyncio.sentinel import Sentinel

    parsed = urlparse(url)
    auth: dict[str, Any] = {
        "username": unquote(parsed.username) if parsed.username else None,
        "password": unquote(parsed.password) if parsed.password else None,
    }
    db = int((parsed.path or "/0").lstrip("/") or 0)
    timeouts = {
        k: v for k, v in options.items() if k in ("socket_timeout", "socket_connect_timeout")
    }
    sentinel = Sentinel(
        [_host_port(s) for s in sentinels],
        sentinel_kwargs={**auth, **timeouts},
        **auth,
        **options,
    )
    return sentinel.master_for(master_name, db=db)
