"""Typed clients of the memory service: ``MemoryClient`` (blocking) and ``AsyncMemoryClient``.

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
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from google.protobuf import struct_pb2

from sage_client.channels import AsyncServiceChannels, ServiceChannels
from sage_client.discovery import Resolver
from sage_proto.common.v1 import common_pb2
from sage_proto.memory.v1 import memory_pb2, memory_pb2_grpc

Metadata = Mapping[str, str | int | float | bool | Sequence[str]]


def metadata_message(metadata: Metadata | None) -> common_pb2.Metadata:
    out = common_pb2.Metadata()
    for key, value in (metadata or {}).items():
        field = out.fields[key]
        if isinstance(value, bool):  # before int: bool is an int
            field.bool_value = value
        elif isinstance(value, int):
            field.int_value = value
        elif isinstance(value, float):
            field.double_value = value
        elif isinstance(value, str):
            field.string_value = value
        elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
            field.string_list_value.values.extend(value)
        else:
            raise TypeError(f"metadata[{key!r}] is a {type(value).__name__}; use str, int, float, bool or list[str]")
    return out


def metadata_dict(message: common_pb2.Metadata) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in message.fields.items():
        kind = value.WhichOneof("kind")
        out[key] = list(value.string_list_value.values) if kind == "string_list_value" else getattr(value, kind or "")
    return out


def memory_dict(m: memory_pb2.Memory) -> dict[str, Any]:
    return {"id": m.id, "session_id": m.session_id, "content": m.content, "metadata": metadata_dict(m.metadata),
            "create_time": m.create_time.ToNanoseconds() / 1e9}


def _vector(vector: Any) -> bytes:
    return b"" if vector is None else np.ascontiguousarray(vector, dtype="<f4").tobytes()


def store_request(session_id: str, content: str, metadata: Metadata | None, vector: Any,
                  idempotency_key: str | None) -> memory_pb2.StoreMemoryRequest:
    return memory_pb2.StoreMemoryRequest(session_id=session_id, content=content, metadata=metadata_message(metadata),
                                         vector=_vector(vector), idempotency_key=idempotency_key or uuid.uuid4().hex)


def search_request(query: str | Any, session_id: str, top_k: int, where: Mapping[str, Any] | None,
                   recency_weight: float) -> memory_pb2.SearchMemoriesRequest:
    request = memory_pb2.SearchMemoriesRequest(session_id=session_id, top_k=top_k, recency_weight=recency_weight)
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


class MemoryClient:
    """Blocking client of ``sage.memory.v1.MemoryService``."""

    def __init__(self, *, address: str | Sequence[str] | None = None, resolver: Resolver | None = None,
                 token: str | None = None, timeout: float | None = 30.0) -> None:
        self._ch = ServiceChannels("memory", memory_pb2_grpc.MemoryServiceStub, address=address, resolver=resolver,
                                   token=token, timeout=timeout)

    def store_memory(self, session_id: str, content: str, metadata: Metadata | None = None, *,
                     vector: Any = None, idempotency_key: str | None = None) -> dict[str, Any]:
        """Store one memory; ``vector`` (float32, the collection's dimension) skips embedding.
        A second call with the same ``idempotency_key`` returns the first memory."""
        request = store_request(session_id, content, metadata, vector, idempotency_key)
        return memory_dict(self._ch.call("StoreMemory", request, idempotent=True).memory)

    def search_memories(self, query: str | Any, *, session_id: str = "", top_k: int = 10,
                        where: Mapping[str, Any] | None = None, recency_weight: float = 0.0) -> list[dict[str, Any]]:
        """Memories most similar to ``query`` (a text or a vector), best first; ``session_id`` empty
        searches every session; ``where`` filters on metadata (Chroma's shape)."""
        request = search_request(query, session_id, top_k, where, recency_weight)
        return _hits(self._ch.call("SearchMemories", request, idempotent=True))

    def get_memory(self, memory_id: str) -> dict[str, Any]:
        """One memory; raises ``NotFound`` when missing."""
        reply = self._ch.call("GetMemory", memory_pb2.GetMemoryRequest(id=memory_id), idempotent=True)
        return memory_dict(reply.memory)

    def list_session_memories(self, session_id: str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every memory of a session, newest first, fetched a page at a time."""
        token = ""
        while True:
            reply = self._ch.call("ListSessionMemories", memory_pb2.ListSessionMemoriesRequest(
                session_id=session_id, page_size=page_size, page_token=token), idempotent=True)
            yield from (memory_dict(m) for m in reply.memories)
            token = reply.next_page_token
            if not token:
                return

    def delete_memory(self, memory_id: str) -> None:
        self._ch.call("DeleteMemory", memory_pb2.DeleteMemoryRequest(id=memory_id), idempotent=True)

    def delete_session(self, session_id: str) -> int:
        """Remove every memory of a session; returns how many there were."""
        reply = self._ch.call("DeleteSession", memory_pb2.DeleteSessionRequest(session_id=session_id),
                              idempotent=True)
        return int(reply.deleted_count)

    def close(self) -> None:
        self._ch.close()

    def __enter__(self) -> MemoryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncMemoryClient:
    """grpc.aio client of ``sage.memory.v1.MemoryService``; create it inside the event loop that uses it."""

    def __init__(self, *, address: str | Sequence[str] | None = None, resolver: Resolver | None = None,
                 token: str | None = None, timeout: float | None = 30.0) -> None:
        self._ch = AsyncServiceChannels("memory", memory_pb2_grpc.MemoryServiceStub, address=address,
                                        resolver=resolver, token=token, timeout=timeout)

    async def store_memory(self, session_id: str, content: str, metadata: Metadata | None = None, *,
                           vector: Any = None, idempotency_key: str | None = None) -> dict[str, Any]:
        request = store_request(session_id, content, metadata, vector, idempotency_key)
        return memory_dict((await self._ch.call("StoreMemory", request, idempotent=True)).memory)

    async def search_memories(self, query: str | Any, *, session_id: str = "", top_k: int = 10,
                              where: Mapping[str, Any] | None = None,
                              recency_weight: float = 0.0) -> list[dict[str, Any]]:
        request = search_request(query, session_id, top_k, where, recency_weight)
        return _hits(await self._ch.call("SearchMemories", request, idempotent=True))

    async def get_memory(self, memory_id: str) -> dict[str, Any]:
        reply = await self._ch.call("GetMemory", memory_pb2.GetMemoryRequest(id=memory_id), idempotent=True)
        return memory_dict(reply.memory)

    async def list_session_memories(self, session_id: str, *, page_size: int = 100) -> AsyncIterator[dict[str, Any]]:
        token = ""
        while True:
            reply = await self._ch.call("ListSessionMemories", memory_pb2.ListSessionMemoriesRequest(
                session_id=session_id, page_size=page_size, page_token=token), idempotent=True)
            for m in reply.memories:
                yield memory_dict(m)
            token = reply.next_page_token
            if not token:
                return

    async def delete_memory(self, memory_id: str) -> None:
        await self._ch.call("DeleteMemory", memory_pb2.DeleteMemoryRequest(id=memory_id), idempotent=True)

    async def delete_session(self, session_id: str) -> int:
        reply = await self._ch.call("DeleteSession", memory_pb2.DeleteSessionRequest(session_id=session_id),
                                    idempotent=True)
        return int(reply.deleted_count)

    async def close(self) -> None:
        await self._ch.close()

    async def __aenter__(self) -> AsyncMemoryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
