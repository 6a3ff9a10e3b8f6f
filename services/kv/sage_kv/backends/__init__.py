"""KV storage backends behind one interface."""

from sage_kv.backends.base import BackendUnavailable, KVBackend, StoredEntry, VersionMismatch

__all__ = ["BackendUnavailable", "KVBackend", "StoredEntry", "VersionMismatch", "create_backend"]


def create_backend(kind: str, redis_url: str = "") -> KVBackend:
    if kind == "memory":
        from sage_kv.backends.memory import MemoryBackend

        return MemoryBackend()
    if kind == "redis":
        from sage_kv.backends.redis import RedisBackend

        return RedisBackend(redis_url)
    raise ValueError(f"unknown KV backend {kind!r}; choose 'memory' or 'redis'")
