"""KV storage backends behind one interface."""

from sage_kv.backends.base import BackendUnavailable, KVBackend, StoredEntry, VersionMismatch

__all__ = ["BackendUnavailable", "KVBackend", "StoredEntry", "VersionMismatch", "create_backend"]


def create_backend(kind: str, redis_url: str = "", **redis_options: object) -> KVBackend:
    """``redis_options``: RedisBackend's sentinels, master_name, wait_replicas, wait_timeout_ms."""
    if kind == "memory":
        from sage_kv.backends.memory import MemoryBackend

        return MemoryBackend()
    if kind == "redis":
        from sage_kv.backends.redis import RedisBackend

        return RedisBackend(redis_url, **redis_options)  # type: ignore[arg-type]
    raise ValueError(f"unknown KV backend {kind!r}; choose 'memory' or 'redis'")
