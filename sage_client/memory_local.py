"""``LocalMemory``: the memory service's behaviour inside one process, for ``LocalEnvironment``
pipelines that run with no servers — the native vector core (``sage_native``) for vectors, a dict
for records, the embedding model loaded in-process. Same methods and return values as
``MemoryClient``; nothing survives ``close()``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from sage_client.codec.embedding import EMBEDDING_DIMENSION
from sage_client.errors import InvalidArgument, NotFound
from sage_client.memory import Metadata
from sage_client.memory_model import (
    CREATED_FIELD,
    MAX_SESSION,
    MAX_TOP_K,
    SESSION_FIELD,
    Candidate,
    candidates_for,
    memory_id,
    rank,
    reserved_keys,
    session_filter,
)


class LocalMemory:
    """In-process memories: ``store_memory``, ``search_memories``, ``get_memory``,
    ``list_session_memories``, ``delete_memory``, ``delete_session``."""

    thread_safe = True  # one lock inside

    def __init__(
        self,
        *,
        dimension: int = EMBEDDING_DIMENSION,
        embedder: Any = None,
        recency_half_life_s: float = 86400.0,
    ) -> None:
        import sage_native  # the native core is only needed when memories live in this process

        self._dir = tempfile.TemporaryDirectory(prefix="sage-memory-")
        self._vectors = sage_native.Collection.create(
            f"{self._dir.name}/memories", dim=dimension, metric="cosine", index="hnsw", fsync="none"
        )
        self._records: dict[str, dict[str, Any]] = {}
        self._embedder = embedder
        self._dimension = dimension
        self._half_life = recency_half_life_s
        self._lock = threading.Lock()

    def _embed(self, text: str) -> np.ndarray:
        if self._embedder is None:
            from sage_client.llm import EmbeddingClient

            self._embedder = EmbeddingClient()
        return np.asarray(self._embedder.embed([text]), dtype=np.float32)[0]

    def _vector(self, value: Any, field: str) -> np.ndarray:
        vector = np.ascontiguousarray(value, dtype=np.float32).reshape(-1)
        if vector.size != self._dimension:
            raise InvalidArgument(
                f"{field} has {vector.size} values; it must have {self._dimension}", field=field
            )
        if not np.all(np.isfinite(vector)) or not np.any(vector):
            raise InvalidArgument(f"{field} must be finite and not all zeros", field=field)
        return vector

    @staticmethod
    def _session(session_id: str) -> str:
        if not session_id or len(session_id) > MAX_SESSION:
            raise InvalidArgument(
                f"session_id must be 1..{MAX_SESSION} characters; got {session_id[:40]!r}",
                field="session_id",
            )
        return session_id

    def store_memory(
        self,
        session_id: str,
        content: str,
        metadata: Metadata | None = None,
        *,
        vector: Any = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        self._session(session_id)
        if not content.strip():
            raise InvalidArgument(
                "content must not be empty; it is the text to remember", field="content"
            )
        meta = dict(metadata or {})
        if reserved_keys(list(meta)):
            raise InvalidArgument(
                f"metadata keys starting with '_sage_' are reserved; rename {reserved_keys(list(meta))}",
                field="metadata",
            )
        mid = memory_id(session_id, idempotency_key or "")
        with self._lock:
            if idempotency_key and mid in self._records:
                return dict(self._records[mid])
        vec = self._vector(vector, "vector") if vector is not None else self._embed(content)
        created_ms = time.time_ns() // 1_000_000
        record = {
            "id": mid,
            "session_id": session_id,
            "content": content,
            "metadata": meta,
            "create_time": created_ms / 1000.0,
        }
        with self._lock:
            self._vectors.upsert(
                [mid],
                vec[None, :],
                metadatas=[{**meta, SESSION_FIELD: session_id, CREATED_FIELD: created_ms}],
            )
            self._records[mid] = record
        return dict(record)

    def search_memories(
        self,
        query: str | Any,
        *,
        session_id: str = "",
        top_k: int = 10,
        where: Mapping[str, Any] | None = None,
        recency_weight: float = 0.0,
    ) -> list[dict[str, Any]]:
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidArgument(f"top_k must be 1..{MAX_TOP_K}; got {top_k}", field="top_k")
        if not 0.0 <= recency_weight <= 1.0:
            raise InvalidArgument(
                f"recency_weight must be in 0..1; got {recency_weight}", field="recency_weight"
            )
        vec = self._embed(query) if isinstance(query, str) else self._vector(query, "query_vector")
        with self._lock:
            try:
                hits = self._vectors.search(
                    vec[None, :],
                    k=candidates_for(top_k, recency_weight),
                    where=session_filter(session_id, where),
                    include=["metadatas"],
                )
            except ValueError as exc:
                raise InvalidArgument(f"the filter was rejected: {exc}", field="where") from None
            candidates = [
                Candidate(i, float(s), int(m[CREATED_FIELD]))
                for i, s, m in zip(
                    hits["ids"][0], hits["scores"][0], hits["metadatas"][0], strict=False
                )
            ]
            ranked = rank(
                candidates, top_k, recency_weight, time.time_ns() // 1_000_000, self._half_life
            )
            return [{**self._records[c.id], "score": score} for c, score in ranked]

    def get_memory(self, memory_id: str) -> dict[str, Any]:
        with self._lock:
            record = self._records.get(memory_id)
        if record is None:
            raise NotFound(f"memory {memory_id!r} not found")
        return dict(record)

    def list_session_memories(
        self, session_id: str, *, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        with self._lock:
            # Reversed insertion order first, so that memories stored in the same millisecond
            # still come newest first after the (stable) sort.
            found = [
                dict(r) for r in reversed(self._records.values()) if r["session_id"] == session_id
            ]
        yield from sorted(found, key=lambda r: r["create_time"], reverse=True)

    def delete_memory(self, memory_id: str) -> None:
        with self._lock:
            if self._records.pop(memory_id, None) is None:
                raise NotFound(f"memory {memory_id!r} not found")
            self._vectors.delete(ids=[memory_id])

    def delete_session(self, session_id: str) -> int:
        with self._lock:
            ids = [i for i, r in self._records.items() if r["session_id"] == session_id]
            for i in ids:
                del self._records[i]
            self._vectors.delete(where={SESSION_FIELD: session_id})
        return len(ids)

    def close(self) -> None:
        self._vectors.close()
        self._dir.cleanup()
