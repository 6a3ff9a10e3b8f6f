"""The gateway's API keys, stored hashed in the KV service so every gateway instance sees the
same keys: the store and its format, shared by the gateway (which looks keys up) and `sage keys`
(which creates, lists and revokes them), so the CLI needs no gateway code.

A key is ``sk-sage-<random>``; only its SHA-256 is stored, under ``<sha256>`` in the KV
namespace ``gateway-keys``. The key's id is the first 12 hex digits of the hash, so a key can
be listed and revoked by id without anyone holding the secret again.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import asdict, dataclass

import orjson

from sage_client import AsyncKVClient, KVClient, NotFound

NAMESPACE = "gateway-keys"
PREFIX = "sk-sage-"
ID_LENGTH = 12


@dataclass(frozen=True)
class KeyRecord:
    id: str
    name: str
    user: str
    admin: bool = False
    rpm: int = 0  # requests per minute; 0 = the gateway's default
    tpm: int = 0  # tokens per minute; 0 = the gateway's default
    created_at: float = 0.0

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> KeyRecord:
        return cls(**orjson.loads(raw))


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(
    name: str, user: str, *, admin: bool = False, rpm: int = 0, tpm: int = 0
) -> tuple[str, KeyRecord]:
    """A fresh secret and the record to store for it (the secret itself is never stored)."""
    if not user:
        raise ValueError("a key needs a user (the owner of its sessions); pass --user NAME")
    if rpm < 0 or tpm < 0:
        raise ValueError("rpm and tpm must be >= 0 (0 means the gateway's default)")
    secret = PREFIX + secrets.token_urlsafe(24)
    digest = key_hash(secret)
    return secret, KeyRecord(
        id=digest[:ID_LENGTH],
        name=name or user,
        user=user,
        admin=admin,
        rpm=rpm,
        tpm=tpm,
        created_at=time.time(),
    )


class KeyStore:
    """Blocking access, for the `sage keys` command and tests."""

    def __init__(self, kv: KVClient) -> None:
        self._kv = kv

    def create(
        self, name: str, user: str, *, admin: bool = False, rpm: int = 0, tpm: int = 0
    ) -> tuple[str, KeyRecord]:
        secret, record = new_key(name, user, admin=admin, rpm=rpm, tpm=tpm)
        self._kv.put(key_hash(secret), record.to_json(), namespace=NAMESPACE)
        return secret, record

    def list(self) -> list[KeyRecord]:
        return sorted(
            (KeyRecord.from_json(e.value) for e in self._kv.scan("", namespace=NAMESPACE)),
            key=lambda r: r.created_at,
        )

    def revoke(self, key_id: str) -> KeyRecord:
        if len(key_id) < 6:
            raise ValueError(f"key id {key_id!r} is too short; `sage keys ls` shows the ids")
        matches = list(self._kv.scan(key_id, namespace=NAMESPACE))
        if not matches:
            raise NotFound(f"no key with id {key_id!r}; `sage keys ls` shows the ids")
        if len(matches) > 1:
            raise ValueError(f"id {key_id!r} matches {len(matches)} keys; give more of it")
        self._kv.delete(matches[0].key, namespace=NAMESPACE)
        return KeyRecord.from_json(matches[0].value)


class AsyncKeyLookup:
    """The gateway's view: secret -> record, cached for ``cache_s`` (so a revoked key stops
    working within that time on every instance)."""

    def __init__(self, kv: AsyncKVClient, cache_s: float) -> None:
        self._kv = kv
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}

    async def find(self, secret: str) -> KeyRecord | None:
        digest = key_hash(secret)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            record: KeyRecord | None = KeyRecord.from_json(
                await self._kv.get(digest, namespace=NAMESPACE)
            )
        except NotFound:
            record = None
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[digest] = (now + self._cache_s, record)
        return record
