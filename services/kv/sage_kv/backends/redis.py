"""Redis KV backend: shared by every KV instance, survives their restarts.

Layout: each entry is a hash ``sage:kv:<ns>\\0<key>`` with fields ``v`` (value)
and ``n`` (version); a sorted set ``sage:kvidx:<ns>`` indexes the keys of a
namespace for ordered prefix scans (ZRANGEBYLEX). Writes run as Lua scripts so
value, version, TTL and index change atomically; a batch read is one script call too. Members of the index whose
entry expired are skipped by scans and removed lazily.
"""

from __future__ import annotations

from urllib.parse import urlparse

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sage_kv.backends.base import BackendUnavailable, KVBackend, StoredEntry, VersionMismatch
from sage_runtime.redis_connect import redis_async

_PUT = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local expected = tonumber(ARGV[3])
if expected >= 0 and cur ~= expected then return {0, cur} end
local ver = cur + 1
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', ver)
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
redis.call('ZADD', KEYS[2], 0, ARGV[4])
return {1, ver}
"""

_DELETE = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local expected = tonumber(ARGV[1])
if expected >= 0 and cur ~= expected then return {0, cur} end
redis.call('ZREM', KEYS[2], ARGV[2])
return {1, redis.call('DEL', KEYS[1])}
"""

# KEYS: index, entry1..entryN; ARGV: ttl, then key1, value1, key2, value2, ...
_BATCH_PUT = """
local ttl = tonumber(ARGV[1])
local out = {}
for i = 2, #KEYS do
  local ver = redis.call('HINCRBY', KEYS[i], 'n', 1)
  redis.call('HSET', KEYS[i], 'v', ARGV[2 * (i - 1) + 1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) else redis.call('PERSIST', KEYS[i]) end
  redis.call('ZADD', KEYS[1], 0, ARGV[2 * (i - 1)])
  out[#out + 1] = ver
end
return out
"""

# KEYS: entry1..entryN; returns value, version, pttl per key (false for a missing field).
# One script call instead of 2N pipelined commands: the client builds and parses one reply.
_BATCH_GET = """
local out = {}
for i = 1, #KEYS do
  local f = redis.call('HMGET', KEYS[i], 'v', 'n')
  out[#out + 1] = f[1]
  out[#out + 1] = f[2]
  out[#out + 1] = redis.call('PTTL', KEYS[i])
end
return out
"""

_CLEAR = """
local n = 0
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, m in ipairs(members) do
  n = n + redis.call('DEL', ARGV[1] .. m)
end
redis.call('DEL', KEYS[1])
return n
"""


def _entry_key(ns: str, key: str) -> bytes:
    return b"sage:kv:" + ns.encode() + b"\0" + key.encode()


def _index_key(ns: str) -> bytes:
    return b"sage:kvidx:" + ns.encode()


class RedisBackend(KVBackend):
    name = "redis"

    def __init__(
        self,
        url: str,
        sentinels: list[str] | None = None,
        master_name: str = "sage",
        wait_replicas: int = 0,
        wait_timeout_ms: int = 1000,
    ) -> None:
        parsed = urlparse(url)  # named in errors without its password
        self._where = (
            f"the Redis primary {master_name!r} of the sentinels {', '.join(sentinels)}"
            if sentinels
            else f"Redis at {parsed.hostname}:{parsed.port or 6379}"
        )
        self._wait, self._wait_ms = wait_replicas, wait_timeout_ms
        self._redis = redis_async(
            url,
            sentinels,
            master_name,
            socket_connect_timeout=1.0,
            socket_timeout=5.0,
            health_check_interval=5,
            retry_on_timeout=False,
        )
        self._put = self._redis.register_script(_PUT)
        self._delete = self._redis.register_script(_DELETE)
        self._batch_put = self._redis.register_script(_BATCH_PUT)
        self._batch_get = self._redis.register_script(_BATCH_GET)
        self._clear = self._redis.register_script(_CLEAR)

    async def _call(self, coro):  # type: ignore[no-untyped-def]
        try:
            return await coro
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BackendUnavailable(f"{self._where} is unreachable: {exc}") from None
        except ResponseError as exc:
            text = str(exc)
            if "LOADING" in text or "BUSY" in text or "READONLY" in text:
                # READONLY: a demoted primary (failover under way); the next call finds the new one
                raise BackendUnavailable(f"{self._where} is not ready: {exc}") from None
            raise

    async def _write(self, script, keys: list, args: list):  # type: ignore[no-untyped-def]
        """Run a write script; with ``wait_replicas``, on the same connection ``WAIT`` for that
        many replicas, and refuse to acknowledge a write they do not hold."""
        if not self._wait:
            return await self._call(script(keys=keys, args=args))

        async def run():  # type: ignore[no-untyped-def]
            async with self._redis.pipeline(transaction=False) as pipe:
                await script(keys=keys, args=args, client=pipe)  # queued, not sent
                pipe.execute_command("WAIT", self._wait, self._wait_ms)
                return await pipe.execute()

        result, acked = await self._call(run())
        if int(acked) < self._wait:
            raise BackendUnavailable(
                f"the write reached {self._where} but only {acked} of {self._wait} replicas "
                f"within {self._wait_ms} ms; it is not acknowledged (a failover could lose it)"
            )
        return result

    async def get(self, ns: str, key: str) -> StoredEntry | None:
        return (await self.batch_get(ns, [key]))[0]

    async def put(
        self, ns: str, key: str, value: bytes, ttl_ms: int, expected_version: int | None
    ) -> int:
        ok, version = await self._write(
            self._put,
            [_entry_key(ns, key), _index_key(ns)],
            [value, ttl_ms, -1 if expected_version is None else expected_version, key.encode()],
        )
        if not ok:
            raise VersionMismatch(int(version))
        return int(version)

    async def delete(self, ns: str, key: str, expected_version: int | None) -> bool:
        ok, result = await self._write(
            self._delete,
            [_entry_key(ns, key), _index_key(ns)],
            [-1 if expected_version is None else expected_version, key.encode()],
        )
        if not ok:
            raise VersionMismatch(int(result))
        return bool(result)

    async def batch_get(self, ns: str, keys: list[str]) -> list[StoredEntry | None]:
        raw = await self._call(self._batch_get(keys=[_entry_key(ns, key) for key in keys]))
        out: list[StoredEntry | None] = []
        for i in range(0, len(raw), 3):
            value, version, ttl = raw[i], raw[i + 1], raw[i + 2]
            out.append(
                None
                if version is None
                else StoredEntry(value or b"", int(version), max(0, int(ttl)))
            )
        return out

    async def batch_put(
        self, ns: str, keys: list[str], values: list[bytes], ttl_ms: int
    ) -> list[int]:
        args: list[bytes | int] = [ttl_ms]
        for key, value in zip(keys, values, strict=True):
            args += [key.encode(), value]
        versions = await self._write(
            self._batch_put, [_index_key(ns), *(_entry_key(ns, k) for k in keys)], args
        )
        return [int(v) for v in versions]

    async def scan(
        self, ns: str, prefix: str, after: str, limit: int, include_values: bool
    ) -> list[tuple[str, StoredEntry]]:
        index = _index_key(ns)
        low = b"(" + after.encode() if after and after >= prefix else b"[" + prefix.encode()
        high = b"[" + prefix.encode() + b"\xff" if prefix else b"+"
        out: list[tuple[str, StoredEntry]] = []
        while len(out) < limit:
            members = await self._call(
                self._redis.zrangebylex(index, low, high, start=0, num=limit - len(out))
            )
            if not members:
                break
            keys = [m.decode() for m in members]
            entries = await self.batch_get(ns, keys)
            expired = []
            for key, entry in zip(keys, entries, strict=True):
                if entry is None:
                    expired.append(key)
                else:
                    out.append((key, entry if include_values else entry._replace(value=b"")))
            if expired:
                await self._call(self._redis.zrem(index, *expired))
            low = b"(" + members[-1]
        return out

    async def clear(self, ns: str) -> int:
        return int(
            await self._write(self._clear, [_index_key(ns)], [b"sage:kv:" + ns.encode() + b"\0"])
        )

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:  # noqa: BLE001
            return False

    async def close(self) -> None:
        await self._redis.aclose()
