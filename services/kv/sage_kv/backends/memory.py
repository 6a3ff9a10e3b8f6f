"""In-process KV backend: the embedded default. Not shared between processes."""

from __future__ import annotations

import bisect
import time

from sage_kv.backends.base import KVBackend, StoredEntry, VersionMismatch


class _Namespace:
    __slots__ = ("entries", "sorted_keys")

    def __init__(self) -> None:
        # key -> [value, version, expires_at (monotonic seconds, 0 = never)]
        self.entries: dict[str, list] = {}
        self.sorted_keys: list[str] | None = []

    def live(self, key: str, now: float) -> list | None:
        item = self.entries.get(key)
        if item is not None and item[2] and item[2] <= now:
            del self.entries[key]
            self.sorted_keys = None
            return None
        return item


def _ttl_left(expires_at: float, now: float) -> int:
    return max(1, int((expires_at - now) * 1000)) if expires_at else 0


class MemoryBackend(KVBackend):
    name = "memory"

    def __init__(self) -> None:
        self._spaces: dict[str, _Namespace] = {}

    def _space(self, ns: str) -> _Namespace:
        space = self._spaces.get(ns)
        if space is None:
            space = self._spaces[ns] = _Namespace()
        return space

    async def get(self, ns: str, key: str) -> StoredEntry | None:
        space = self._spaces.get(ns)
        if space is None:
            return None
        now = time.monotonic()
        item = space.live(key, now)
        if item is None:
            return None
        return StoredEntry(item[0], item[1], _ttl_left(item[2], now))

    def _put_one(self, space: _Namespace, key: str, value: bytes, ttl_ms: int, now: float) -> int:
        item = space.live(key, now)
        expires = now + ttl_ms / 1000 if ttl_ms else 0.0
        if item is None:
            space.entries[key] = [value, 1, expires]
            if space.sorted_keys is not None:
                bisect.insort(space.sorted_keys, key)
            return 1
        item[0], item[1], item[2] = value, item[1] + 1, expires
        return item[1]

    async def put(
        self, ns: str, key: str, value: bytes, ttl_ms: int, expected_version: int | None
    ) -> int:
        space = self._space(ns)
        now = time.monotonic()
        if expected_version is not None:
            item = space.live(key, now)
            current = item[1] if item else 0
            if current != expected_version:
                raise VersionMismatch(current)
        return self._put_one(space, key, value, ttl_ms, now)

    async def delete(self, ns: str, key: str, expected_version: int | None) -> bool:
        space = self._spaces.get(ns)
        now = time.monotonic()
        item = space.live(key, now) if space else None
        if expected_version is not None and (item[1] if item else 0) != expected_version:
            raise VersionMismatch(item[1] if item else 0)
        if item is None:
            return False
        del space.entries[key]  # type: ignore[union-attr]
        space.sorted_keys = None  # type: ignore[union-attr]
        return True

    async def batch_get(self, ns: str, keys: list[str]) -> list[StoredEntry | None]:
        space = self._spaces.get(ns)
        if space is None:
            return [None] * len(keys)
        now = time.monotonic()
        out: list[StoredEntry | None] = []
        append = out.append
        entries = space.entries
        for key in keys:
            item = entries.get(key)
            if item is not None and item[2] and item[2] <= now:
                item = space.live(key, now)
            append(None if item is None else StoredEntry(item[0], item[1], _ttl_left(item[2], now)))
        return out

    async def batch_put(
        self, ns: str, keys: list[str], values: list[bytes], ttl_ms: int
    ) -> list[int]:
        space = self._space(ns)
        now = time.monotonic()
        return [self._put_one(space, k, v, ttl_ms, now) for k, v in zip(keys, values, strict=True)]

    async def scan(
        self, ns: str, prefix: str, after: str, limit: int, include_values: bool
    ) -> list[tuple[str, StoredEntry]]:
        space = self._spaces.get(ns)
        if space is None:
            return []
        if space.sorted_keys is None:
            space.sorted_keys = sorted(space.entries)
        keys = space.sorted_keys
        start = max(
            bisect.bisect_right(keys, after) if after else 0, bisect.bisect_left(keys, prefix)
        )
        now = time.monotonic()
        out: list[tuple[str, StoredEntry]] = []
        for key in keys[start:]:
            if not key.startswith(prefix) or len(out) >= limit:
                break
            item = space.entries.get(key)
            if item is None or (item[2] and item[2] <= now):
                continue
            out.append(
                (
                    key,
                    StoredEntry(
                        item[0] if include_values else b"", item[1], _ttl_left(item[2], now)
                    ),
                )
            )
        return out

    async def clear(self, ns: str) -> int:
        space = self._spaces.pop(ns, None)
        if space is None:
            return 0
        now = time.monotonic()
        return sum(1 for item in space.entries.values() if not (item[2] and item[2] <= now))
