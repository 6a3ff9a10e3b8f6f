"""The memory orchestration over KV, VDB and LLM: what each call writes, in which order.

A store writes its own vector point (``<id>-<created µs>``) and the session index entry in
parallel, then the KV record create-only: that record is the commit point. The memory id comes
from the idempotency key, so a retry races for the same record; the attempt that loses reads the
winner's memory and removes what it wrote itself, never the winner's point. Every read goes
through KV, so a point or index entry without its record is invisible. A failed store deletes
what it wrote, its point before its index entry: the entry names the attempt's point, so an entry
stays as long as its point may. What is left behind when even that fails (the process killed, a
dependency down) is garbage: the sweep (``collect_orphans``, driven by ``sweeper``) walks the
index and removes each uncommitted attempt's point and entry, and search collects any point it
meets without a record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import grpc
import numpy as np

from sage_client.codec.vectors import FLOAT32_BYTES, vector_view
from sage_client.errors import FailedPrecondition, NotFound
from sage_client.memory_model import (
    CREATED_FIELD,
    SESSION_FIELD,
    Candidate,
    candidates_for,
    memory_id,
    rank,
    session_filter,
)
from sage_client.vdb import QueryResult
from sage_memory import records
from sage_memory.config import MemoryConfig
from sage_memory.dependencies import Dependencies, guarded
from sage_proto.common.v1 import common_pb2
from sage_proto.memory.v1 import memory_pb2
from sage_runtime import errors as err

log = logging.getLogger("sage.memory")
_DELETE_CONCURRENCY = 32
T = TypeVar("T")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _past_grace(created_us: int, grace_s: float) -> bool:
    """Whether a store attempt made at ``created_us`` is old enough that, uncommitted, it is
    garbage rather than a store still in flight."""
    return time.time_ns() // 1000 - created_us > grace_s * 1_000_000


async def _bounded_gather(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Await ``calls`` with at most ``_DELETE_CONCURRENCY`` of them in flight."""
    limit = asyncio.Semaphore(_DELETE_CONCURRENCY)

    async def one(call: Awaitable[T]) -> T:
        async with limit:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


class _CreationClock:
    """Microseconds since the epoch, strictly increasing within this process, so that stores
    made one after another list newest first even inside one microsecond."""

    def __init__(self) -> None:
        self._last = 0

    def now_us(self) -> int:
        self._last = max(time.time_ns() // 1000, self._last + 1)
        return self._last


class MemoryStore:
    def __init__(self, deps: Dependencies, config: MemoryConfig) -> None:
        self.deps = deps
        self.config = config
        self.ns = config.kv_namespace
        self.collection = config.collection
        self.durability: Literal["sync", "async"] = (
            "sync" if config.vdb_durability == "sync" else "async"
        )
        self._background: set[asyncio.Task[Any]] = set()
        self._clock = _CreationClock()

    # -- building blocks ------------------------------------------------------
    async def embed(self, text: str) -> bytes:
        reply = await self.deps.call(
            "llm", self.deps.llm.embeddings([text], model=self.config.embedding_model)
        )
        if reply.dimension != self.config.dimension:
            raise err.ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"the LLM service's embedding model {reply.model!r} has {reply.dimension} dimensions but the memory "
                f"collection has {self.config.dimension}; set embedding_model or dimension to match",
                0,
            )
        return reply.packed

    async def _record(self, mid: str) -> memory_pb2.Memory | None:
        try:
            value = await self.deps.call(
                "kv", self.deps.kv.get(records.record_key(mid)), passthrough=(NotFound,)
            )
        except NotFound:
            return None
        return memory_pb2.Memory.FromString(value)

    async def _records(self, ids: Sequence[str]) -> list[memory_pb2.Memory | None]:
        if not ids:
            return []
        keys = [records.record_key(i) for i in ids]
        found = await self.deps.call("kv", self.deps.kv.batch_get(keys))
        return [memory_pb2.Memory.FromString(found[k]) if k in found else None for k in keys]

    async def _kv_delete(self, key: str) -> bool:
        return bool(await self.deps.call("kv", self.deps.kv.delete(key, allow_missing=True)))

    async def _vdb_delete(
        self, ids: Sequence[str] = (), where: Mapping[str, Any] | None = None
    ) -> None:
        await self.deps.call(
            "vdb",
            self.deps.vdb.delete(
                self.collection, list(ids), where=where, durability=self.durability
            ),
            filtered=True,
        )

    async def _upsert(self, point: str, vector: bytes, metadata: common_pb2.Metadata) -> None:
        def upsert() -> Awaitable[int]:
            return self.deps.vdb.upsert(
                self.collection,
                [point],
                vector_view(vector),
                metadatas=[metadata],
                durability=self.durability,
            )

        try:
            await self.deps.call("vdb", upsert(), passthrough=(NotFound,))
        except NotFound:
            # The VDB lost the collection (restarted empty): create it and write again.
            self.deps.collection_ready = False
            await self.deps.ensure_collection()
            await self.deps.call("vdb", upsert())

    # -- RPC bodies -----------------------------------------------------------
    async def store(
        self,
        session_id: str,
        content: str,
        metadata: common_pb2.Metadata,
        vector: bytes,
        idempotency_key: str,
    ) -> memory_pb2.Memory:
        mid = memory_id(session_id, idempotency_key)
        if not self.deps.collection_ready:
            await self.deps.ensure_collection()
        packed = vector or await self.embed(content)
        created_us = self._clock.now_us()
        memory = memory_pb2.Memory(
            id=mid, session_id=session_id, content=content, metadata=metadata
        )
        memory.create_time.FromMicroseconds(created_us)
        point_meta = common_pb2.Metadata()
        point_meta.CopyFrom(metadata)
        point_meta.fields[SESSION_FIELD].string_value = session_id
        point_meta.fields[CREATED_FIELD].int_value = created_us // 1000
        point = records.point_id(mid, created_us)
        entry = records.session_entry_key(session_id, created_us, mid)
        # Point and index entry are both invisible until the commit, so they go in parallel.
        written = await asyncio.gather(
            self._upsert(point, packed, point_meta),
            self.deps.call("kv", self.deps.kv.put(entry, mid.encode())),
            return_exceptions=True,
        )
        try:
            for outcome in written:
                if isinstance(outcome, BaseException):
                    raise outcome
            await self.deps.call(
                "kv",
                self.deps.kv.put(
                    records.record_key(mid), memory.SerializeToString(), expected_version=0
                ),
                passthrough=(FailedPrecondition,),
            )
        except FailedPrecondition:
            # Another attempt with the same idempotency key committed first: its memory is the answer.
            return await self._lost_commit(mid, created_us, point, entry)
        except BaseException:
            # Undo what was written so that nothing half-stored lingers; if this fails too, the
            # pieces stay invisible (no KV record) and the sweep collects them later.
            await self._undo(point, entry)
            raise
        return memory

    async def _undo(self, point: str, entry: str) -> None:
        """Remove one store attempt's point, then its index entry. The entry is kept if the point
        could not be deleted: it is how the sweep finds that point again."""
        try:
            await self._vdb_delete([point])
        except Exception:  # noqa: BLE001 - best effort; the sweep retries through the entry
            return
        await guarded(self._kv_delete(entry))

    async def _lost_commit(
        self, mid: str, created_us: int, point: str, entry: str
    ) -> memory_pb2.Memory:
        first = await self._record(mid)
        if first is None:
            await self._undo(point, entry)
            raise err.ServiceError(
                grpc.StatusCode.ABORTED,
                "a concurrent store with the same idempotency key was deleted meanwhile; retry",
                0,
            )
        if (
            first.create_time.ToMicroseconds() != created_us
        ):  # same microsecond: same keys, the winner's
            await self._undo(point, entry)
        return first

    async def get(self, mid: str) -> memory_pb2.Memory:
        memory = await self._record(mid)
        if memory is None:
            raise err.not_found(f"memory {mid!r} not found", id=mid)
        return memory

    async def list_session(
        self, session_id: str, page_size: int, page_token: str
    ) -> memory_pb2.ListSessionMemoriesResponse:
        page = await self.deps.call(
            "kv",
            self.deps.kv.scan_page(
                records.session_prefix(session_id),
                page_size=page_size,
                page_token=records.decode_page_token(session_id, page_token),
                include_values=False,
            ),
        )
        ids = [records.memory_id_of_entry(e.key) for e in page.entries]
        found = await self._records(ids)
        return memory_pb2.ListSessionMemoriesResponse(
            memories=[m for m in found if m is not None],
            next_page_token=records.encode_page_token(session_id, page.next_page_token),
        )

    async def search(
        self,
        session_id: str,
        query_vector: bytes,
        top_k: int,
        where: Mapping[str, Any] | None,
        recency_weight: float,
    ) -> list[tuple[memory_pb2.Memory, float]]:
        if not self.deps.collection_ready:
            await self.deps.ensure_collection()
        results = await self.deps.call(
            "vdb",
            self.deps.vdb.search(
                self.collection,
                vector_view(query_vector),
                top_k=candidates_for(top_k, recency_weight),
                where=session_filter(session_id, where),
            ),
            filtered=True,
        )
        hits = results[0] if results else QueryResult(ids=[], scores=[])
        parsed = [records.parse_point_id(p) for p in hits.ids]
        found = await self._records([mid for mid, _ in parsed])
        now = _now_ms()
        live: dict[str, memory_pb2.Memory] = {}
        candidates: list[Candidate] = []
        orphans: list[str] = []
        for point, (mid, point_us), score, memory in zip(
            hits.ids, parsed, hits.scores, found, strict=True
        ):
            committed_us = memory.create_time.ToMicroseconds() if memory is not None else None
            if committed_us is None or (point_us is not None and point_us != committed_us):
                # No record, or the record of another attempt: a store in progress or left behind.
                if point_us is not None and _past_grace(point_us, self.config.orphan_grace_s):
                    orphans.append(point)
                continue
            assert memory is not None
            live[mid] = memory
            candidates.append(Candidate(mid, float(score), committed_us // 1000))
        if orphans:
            self._collect(orphans)
        ranked = rank(candidates, top_k, recency_weight, now, self.config.recency_half_life_s)
        return [(live[c.id], score) for c, score in ranked]

    async def delete(self, mid: str) -> None:
        memory = await self.get(mid)
        created_us = memory.create_time.ToMicroseconds()
        # Point first: if a later step fails the memory is still readable and a retry finishes.
        # (A point id without the time is a memory stored before point ids carried it.)
        await self._vdb_delete([records.point_id(mid, created_us), mid])
        await self._kv_delete(records.record_key(mid))
        await self._kv_delete(records.session_entry_key(memory.session_id, created_us, mid))

    async def delete_session(self, session_id: str) -> int:
        await self._vdb_delete(where={SESSION_FIELD: session_id})
        deleted = 0

        async def drop(entry_key: str) -> bool:
            gone = await self._kv_delete(records.record_key(records.memory_id_of_entry(entry_key)))
            await self._kv_delete(entry_key)
            return gone

        while True:
            # Always scan from the start: the previous page's keys are gone.
            page = await self.deps.call(
                "kv",
                self.deps.kv.scan_page(
                    records.session_prefix(session_id), page_size=1000, include_values=False
                ),
            )
            if not page.entries:
                return deleted
            results = await _bounded_gather(drop(e.key) for e in page.entries)
            deleted += sum(results)
            if not page.next_page_token:
                return deleted

    # -- garbage collection ---------------------------------------------------
    async def collect_orphans(
        self, page_token: str = "", page_size: int = 500
    ) -> tuple[int, int, str]:
        """One page of the session index: each entry whose store attempt never committed (no
        record, or the record of another attempt) and is older than ``orphan_grace_s`` loses its
        point, then itself. Returns (entries checked, attempts collected, next page token)."""
        page = await self.deps.call(
            "kv",
            self.deps.kv.scan_page(
                records.INDEX_PREFIX,
                page_size=page_size,
                page_token=page_token,
                include_values=False,
            ),
        )
        attempts = [(e.key, *records.parse_entry_key(e.key)) for e in page.entries]
        found = await self._records([mid for _, mid, _ in attempts])
        orphans = [
            (key, records.point_id(mid, created_us))
            for (key, mid, created_us), memory in zip(attempts, found, strict=True)
            if _past_grace(created_us, self.config.orphan_grace_s)
            and (memory is None or memory.create_time.ToMicroseconds() != created_us)
        ]
        if orphans:
            log.info("collecting %d uncommitted store attempts", len(orphans))
            await self._vdb_delete([point for _, point in orphans])
            await _bounded_gather(self._kv_delete(key) for key, _ in orphans)
        return len(attempts), len(orphans), page.next_page_token

    def _collect(self, ids: list[str]) -> None:
        log.info("collecting %d orphan vectors", len(ids))
        task = asyncio.get_running_loop().create_task(guarded(self._vdb_delete(ids)))
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def check_vector(raw: bytes, dimension: int, field: str) -> bytes:
    """A packed float32 vector of the collection's dimension, finite and not all zero."""
    if len(raw) != dimension * FLOAT32_BYTES:
        raise err.invalid_argument(
            field,
            f"{field} has {len(raw)} bytes; it must be {dimension} little-endian float32 "
            f"values ({dimension * FLOAT32_BYTES} bytes) to match the memory collection",
        )
    values = vector_view(raw)
    if not np.all(np.isfinite(values)):
        raise err.invalid_argument(field, f"{field} contains NaN or infinity; send finite values")
    if not np.any(values):
        raise err.invalid_argument(
            field, f"{field} is all zeros; cosine similarity needs a non-zero vector"
        )
    return raw
