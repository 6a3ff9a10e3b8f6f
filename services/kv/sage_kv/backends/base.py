"""The interface every KV backend implements.

Versions start at 1 when a key is created and grow by one on every write; a
deleted or expired key starts again at 1. ``expected_version`` 0 means "must
not exist".
"""

from __future__ import annotations

import abc
from typing import NamedTuple


class StoredEntry(NamedTuple):
    value: bytes
    version: int
    ttl_ms: int  # remaining time to live; 0 = none


class VersionMismatch(Exception):
    def __init__(self, current_version: int) -> None:
        super().__init__(f"current version is {current_version}")
        self.current_version = current_version


class BackendUnavailable(Exception):
    """The store behind the backend cannot be reached."""


class KVBackend(abc.ABC):
    name: str

    @abc.abstractmethod
    async def get(self, ns: str, key: str) -> StoredEntry | None: ...

    @abc.abstractmethod
    async def put(
        self, ns: str, key: str, value: bytes, ttl_ms: int, expected_version: int | None
    ) -> int: ...

    @abc.abstractmethod
    async def delete(self, ns: str, key: str, expected_version: int | None) -> bool: ...

    @abc.abstractmethod
    async def batch_get(self, ns: str, keys: list[str]) -> list[StoredEntry | None]: ...

    @abc.abstractmethod
    async def batch_put(
        self, ns: str, keys: list[str], values: list[bytes], ttl_ms: int
    ) -> list[int]: ...

    @abc.abstractmethod
    async def scan(
        self, ns: str, prefix: str, after: str, limit: int, include_values: bool
    ) -> list[tuple[str, StoredEntry]]:
        """Entries with ``prefix`` whose key sorts after ``after``, in key order, at most ``limit``."""

    @abc.abstractmethod
    async def clear(self, ns: str) -> int: ...

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None
