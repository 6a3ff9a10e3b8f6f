"""Conversation sessions kept in the KV service (namespace ``gateway-sessions``).

With KV's Redis backend every gateway instance reads and writes the same sessions, so any
instance can serve any turn of a conversation. A session is stored under
``<owner>/<session id>``; the owner is the authenticated user, which is how one key never sees
another's sessions. Appends are compare-and-set on the entry's version, so two instances
writing one session at once both land.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from urllib.parse import quote

import orjson

from sage_client import AsyncKVClient, FailedPrecondition, KVClient, NotFound

NAMESPACE = "gateway-sessions"
_CAS_ATTEMPTS = 8
TITLE_MAX = 60  # SAGE's gateway cuts titles to 60 characters
DEFAULT_TITLE = "New Chat"


def session_key(owner: str, session_id: str) -> str:
    return f"{quote(owner, safe='')}/{session_id}"


@dataclass
class Session:
    id: str
    owner: str
    memory: bool = False
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    history: list[dict[str, str]] = field(default_factory=list)
    title: str = ""  # empty: DEFAULT_TITLE (entries written before titles existed have none)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> Session:
        return cls(**orjson.loads(raw))

    def expired(self, ttl_s: float, now: float | None = None) -> bool:
        return (now or time.time()) - self.updated_at > ttl_s

    def summary(self) -> dict[str, object]:
        return {
            "id": self.id,
            "owner": self.owner,
            "messages": len(self.history),
            "memory": self.memory,
            "title": self.title or DEFAULT_TITLE,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _live(raw: bytes, ttl_s: float) -> Session | None:
    session = Session.from_json(raw)
    return None if session.expired(ttl_s) else session


def _extended(
    session: Session | None,
    owner: str,
    session_id: str,
    messages: list[dict[str, str]],
    memory: bool,
) -> Session:
    """``session`` (a new one when None) with ``messages`` appended, as the next version to write."""
    session = session or Session(session_id, owner, memory)
    session.history.extend(messages)
    session.memory = session.memory or memory
    session.updated_at = time.time()
    return session


def new_session_id() -> str:
    return uuid.uuid4().hex


def clean_title(title: str | None) -> str:
    """A title as stored: stripped, at most ``TITLE_MAX`` characters (empty: the default)."""
    return (title or "").strip()[:TITLE_MAX]


def _contended(session_id: str) -> FailedPrecondition:
    return FailedPrecondition(f"session {session_id!r} is being written too often to append to it")


class SessionWriter:
    """Blocking reads and appends (scripts and tests; the gateway's chats use ``SessionIndex``)."""

    def __init__(self, kv: KVClient, ttl_s: float) -> None:
        self._kv = kv
        self._ttl_s = ttl_s

    def load(self, owner: str, session_id: str) -> Session | None:
        try:
            return _live(
                self._kv.get(session_key(owner, session_id), namespace=NAMESPACE), self._ttl_s
            )
        except NotFound:
            return None

    def append(
        self, owner: str, session_id: str, messages: list[dict[str, str]], memory: bool
    ) -> Session:
        key = session_key(owner, session_id)
        for _ in range(_CAS_ATTEMPTS):
            try:
                entry = self._kv.get_entry(key, namespace=NAMESPACE)
                current, version = _live(entry.value, self._ttl_s), entry.version
            except NotFound:
                current, version = None, 0
            session = _extended(current, owner, session_id, messages, memory)
            try:
                self._kv.put(key, session.to_json(), expected_version=version, namespace=NAMESPACE)
                return session
            except FailedPrecondition:
                continue  # another instance wrote this session meanwhile: re-read and append again
        raise _contended(session_id)


class SessionIndex:
    """The async side: a chat's reads and appends, and list, read, delete and expire sessions
    for the HTTP endpoints."""

    def __init__(self, kv: AsyncKVClient, ttl_s: float) -> None:
        self._kv = kv
        self._ttl_s = ttl_s

    async def load(self, owner: str, session_id: str) -> Session | None:
        """``owner``'s live session ``session_id``."""
        try:
            return _live(
                await self._kv.get(session_key(owner, session_id), namespace=NAMESPACE), self._ttl_s
            )
        except NotFound:
            return None

    async def update(
        self, owner: str, session_id: str, change: Callable[[Session | None], Session | None]
    ) -> Session | None:
        """Write ``change(current)`` (current: the live session or None) with compare-and-set,
        re-reading when another instance wrote meanwhile; None when ``change`` returns None."""
        key = session_key(owner, session_id)
        for _ in range(_CAS_ATTEMPTS):
            try:
                entry = await self._kv.get_entry(key, namespace=NAMESPACE)
                current, version = _live(entry.value, self._ttl_s), entry.version
            except NotFound:
                current, version = None, 0
            session = change(current)
            if session is None:
                return None
            session.updated_at = time.time()
            try:
                await self._kv.put(
                    key, session.to_json(), expected_version=version, namespace=NAMESPACE
                )
                return session
            except FailedPrecondition:
                continue  # another instance wrote this session meanwhile: re-read and change again
        raise _contended(session_id)

    async def append(
        self, owner: str, session_id: str, messages: list[dict[str, str]], memory: bool
    ) -> Session:
        session = await self.update(
            owner,
            session_id,
            lambda current: _extended(current, owner, session_id, messages, memory),
        )
        assert session is not None
        return session

    async def create(self, owner: str, title: str | None = None) -> Session:
        """A new empty session of ``owner`` under a fresh id."""
        session = Session(new_session_id(), owner, title=clean_title(title))
        await self._kv.put(
            session_key(owner, session.id),
            session.to_json(),
            expected_version=0,
            namespace=NAMESPACE,
        )
        return session

    async def clear(self, session: Session) -> Session | None:
        """Empty ``session``'s history (its id, title and owner stay); None if it is gone."""

        def emptied(current: Session | None) -> Session | None:
            if current is not None:
                current.history = []
            return current

        return await self.update(session.owner, session.id, emptied)

    async def rename(self, session: Session, title: str) -> Session | None:
        def renamed(current: Session | None) -> Session | None:
            if current is not None:
                current.title = clean_title(title)
            return current

        return await self.update(session.owner, session.id, renamed)

    async def list(self, owner: str | None) -> list[Session]:
        prefix = "" if owner is None else quote(owner, safe="") + "/"
        sessions = [
            Session.from_json(e.value) async for e in self._kv.scan(prefix, namespace=NAMESPACE)
        ]
        return sorted(
            (s for s in sessions if not s.expired(self._ttl_s)),
            key=lambda s: s.updated_at,
            reverse=True,
        )

    async def find(self, owner: str | None, session_id: str) -> Session | None:
        """The live session ``session_id`` of ``owner`` (any owner's when ``owner`` is None: admins)."""
        if owner is not None:
            return await self.load(owner, session_id)
        return next((s for s in await self.list(None) if s.id == session_id), None)

    async def delete(self, session: Session) -> None:
        await self._kv.delete(
            session_key(session.owner, session.id), allow_missing=True, namespace=NAMESPACE
        )

    async def cleanup(
        self,
        owner: str | None,
        before_delete: Callable[[Session], Awaitable[None]] | None = None,
        max_idle_s: float | None = None,
    ) -> int:
        """Delete the sessions idle longer than ``max_idle_s`` (default: the TTL), calling
        ``before_delete`` on each first (e.g. to delete its memories); how many were deleted."""
        prefix = "" if owner is None else quote(owner, safe="") + "/"
        now = time.time()
        idle = self._ttl_s if max_idle_s is None else max_idle_s
        expired = [
            (e.key, session)
            async for e in self._kv.scan(prefix, namespace=NAMESPACE)
            if (session := Session.from_json(e.value)).expired(idle, now)
        ]
        for key, session in expired:
            if before_delete is not None:
                await before_delete(session)
            await self._kv.delete(key, allow_missing=True, namespace=NAMESPACE)
        return len(expired)
