"""Typed clients of the memory service: ``MemoryClient`` (blocking) and ``AsyncMemoryClient``,
both derived from one definition of each method (``_MemoryCalls``; see ``sage_client.calls``).

    memory = MemoryClient()                  # discovery from SAGE_MEMORY_ADDR / SAGE_ETCD_ENDPOINTS
    m = memory.store_memory("alice", "likes green tea", metadata={"topic": "food"})
    memory.search_memories("what does alice drink?", session_id="alice", top_k=3)
    memory.get_memory(m["id"])

Memories are plain dicts: ``{"id", "session_id", "content", "metadata", "create_time"}``
(``create_time`` in seconds since the epoch); search hits add ``"score"``. Every store carries an
idempotency key (a fresh one when none is given), so the client retries it safely.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import struct_pb2

from sage_client.calls import Pages, Unary, awaited, awaited_pages, blocking, blocking_pages
from sage_client.client_base import AsyncClient, BlockingClient
from sage_client.codec.metadata import MetadataValues, dict_to_metadata, metadata_to_dict
from sage_client.codec.vectors import vector_bytes
from sage_client.discovery import Resolver
from sage_proto.memory.v1 import memory_pb2, memory_pb2_grpc

Metadata = MetadataValues
metadata_message = dict_to_metadata  # the codec's, under this module's old names
metadata_dict = metadata_to_dict


def memory_dict(m: memory_pb2.Memory) -> dict[str, Any]:
    return {
        "id": m.id,
        "session_id": m.session_id,
        "content": m.content,
        "metadata": metadata_dict(m.metadata),
        "create_time": m.create_time.ToNanoseconds() / 1e9,
    }


def _vector(vector: Any) -> bytes:
    return b"" if vector is None else vector_bytes(vector)


def store_request(
    session_id: str,
    content: str,
    metadata: Metadata | None,
    vector: Any,
    idempotency_key: str | None,
) -> memory_pb2.StoreMemoryRequest:
    return memory_pb2.StoreMemoryRequest(
        session_id=session_id,
        content=content,
        metadata=metadata_message(metadata),
        vector=_vector(vector),
        idempotency_key=idempotency_key or uuid.uuid4().hex,
    )


def search_request(
    query: str | Any,
    session_id: str,
    top_k: int,
    where: Mapping[str, Any] | None,
    recency_weight: float,
) -> memory_pb2.SearchMemoriesRequest:
    request = memory_pb2.SearchMemoriesRequest(
        session_id=session_id, top_k=top_k, recency_weight=recency_weight
    )
    if isinstance(query, str):
        request.query_text = query
    else:
        request.query_vector = _vector(query)
    if where:
        request.where.CopyFrom(struct_pb2.Struct())
        request.where.update(dict(where))
    return request


def _hits(reply: memory_pb2.SearchMemoriesResponse) -> list[dict[str, Any]]:
    return [{**memory_dict(hit.memory), "score": hit.score} for hit in reply.memories]


class _MemoryCalls:
    """Every memory method, written once: its request and how its reply decodes."""

    def _store_memory(
        self,
        session_id: str,
        content: str,
        metadata: Metadata | None = None,
        *,
        vector: Any = None,
        idempotency_key: str | None = None,
    ) -> Unary[dict[str, Any]]:
        """Store one memory; ``vector`` (float32, the collection's dimension) skips embedding.
        A second call with the same ``idempotency_key`` returns the first memory."""
        request = store_request(session_id, content, metadata, vector, idempotency_key)
        return Unary("StoreMemory", request, True, _memory_of)

    def _search_memories(
        self,
        query: str | Any,
        *,
        session_id: str = "",
        top_k: int = 10,
        where: Mapping[str, Any] | None = None,
        recency_weight: float = 0.0,
    ) -> Unary[list[dict[str, Any]]]:
        """Memories most similar to ``query`` (a text or a vector), best first; ``session_id`` empty
        searches every session; ``where`` filters on metadata (Chroma's shape)."""
        request = search_request(query, session_id, top_k, where, recency_weight)
        return Unary("SearchMemories", request, True, _hits)

    def _get_memory(self, memory_id: str) -> Unary[dict[str, Any]]:
        """One memory; raises ``NotFound`` when missing."""
        return Unary("GetMemory", memory_pb2.GetMemoryRequest(id=memory_id), True, _memory_of)

    def _list_session_memories(
        self, session_id: str, *, page_size: int = 100
    ) -> Pages[dict[str, Any]]:
        """Every memory of a session, newest first, fetched a page at a time."""
        return Pages(
            "ListSessionMemories",
            lambda token: memory_pb2.ListSessionMemoriesRequest(
                session_id=session_id, page_size=page_size, page_token=token
            ),
            lambda reply: (memory_dict(m) for m in reply.memories),
        )

    def _delete_memory(self, memory_id: str) -> Unary[None]:
        return Unary("DeleteMemory", memory_pb2.DeleteMemoryRequest(id=memory_id), True, _nothing)

    def _delete_session(self, session_id: str) -> Unary[int]:
        """Remove every memory of a session; returns how many there were."""
        return Unary(
            "DeleteSession",
            memory_pb2.DeleteSessionRequest(session_id=session_id),
            True,
            lambda reply: int(reply.deleted_count),
        )


def _memory_of(reply: Any) -> dict[str, Any]:
    return memory_dict(reply.memory)


def _nothing(reply: Any) -> None:
    return None


class MemoryClient(BlockingClient, _MemoryCalls):
    """Blocking client of ``sage.memory.v1.MemoryService``."""

    def __init__(
        self,
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        self._connect(
            "memory", memory_pb2_grpc.MemoryServiceStub, address, resolver, token, timeout
        )

    store_memory = blocking(_MemoryCalls._store_memory)
    search_memories = blocking(_MemoryCalls._search_memories)
    get_memory = blocking(_MemoryCalls._get_memory)
    list_session_memories = blocking_pages(_MemoryCalls._list_session_memories)
    delete_memory = blocking(_MemoryCalls._delete_memory)
    delete_session = blocking(_MemoryCalls._delete_session)


class AsyncMemoryClient(AsyncClient, _MemoryCalls):
    """grpc.aio client of ``sage.memory.v1.MemoryService``; create it inside the event loop that uses it."""

    def __init__(
        self,
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        self._connect(
            "memory", memory_pb2_grpc.MemoryServiceStub, address, resolver, token, timeout
        )

    store_memory = awaited(_MemoryCalls._store_memory)
    search_memories = awaited(_MemoryCalls._search_memories)
    get_memory = awaited(_MemoryCalls._get_memory)
    list_session_memories = awaited_pages(_MemoryCalls._list_session_memories)
    delete_memory = awaited(_MemoryCalls._delete_memory)
    delete_session = awaited(_MemoryCalls._delete_session)
