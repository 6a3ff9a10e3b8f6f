"""The MemoryService servicer: validates requests at the edge and hands them to the store."""

from __future__ import annotations

import math

import grpc
from google.protobuf import json_format

from sage_client.memory_model import MAX_SESSION, MAX_TOP_K, reserved_keys
from sage_memory.config import MemoryConfig
from sage_memory.dependencies import Dependencies
from sage_memory.store import MemoryStore, check_vector
from sage_memory.sweeper import OrphanSweeper
from sage_proto.memory.v1 import memory_pb2, memory_pb2_grpc
from sage_runtime import ServiceSpec
from sage_runtime import errors as err
from sage_runtime.auth import require_admin

MAX_ID = 128
MAX_KEY = 256
MAX_PAGE = 1000
DEFAULT_PAGE = 100
DEFAULT_TOP_K = 10


def _session(session_id: str, field: str = "session_id", allow_empty: bool = False) -> str:
    if not session_id and allow_empty:
        return session_id
    if not session_id or len(session_id) > MAX_SESSION or "\0" in session_id:
        raise err.invalid_argument(
            field,
            f"{field} must be 1..{MAX_SESSION} characters without NUL; got {session_id[:40]!r}",
        )
    return session_id


def _memory_id(mid: str) -> str:
    if not mid or len(mid) > MAX_ID or "/" in mid:
        raise err.invalid_argument(
            "id",
            f"id must be a memory id returned by StoreMemory (1..{MAX_ID} characters, "
            f"no '/'); got {mid[:40]!r}",
        )
    return mid


class MemoryServicer(memory_pb2_grpc.MemoryServiceServicer):
    def __init__(self, store: MemoryStore, config: MemoryConfig) -> None:
        self.store = store
        self.config = config

    async def StoreMemory(
        self, request: memory_pb2.StoreMemoryRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb2.StoreMemoryResponse:
        session = _session(request.session_id)
        if not request.content.strip():
            raise err.invalid_argument(
                "content", "content must not be empty; it is the text to remember"
            )
        size = len(request.content.encode())
        if size > self.config.max_content_bytes:
            raise err.limit_exceeded(
                "content",
                f"content is {size} bytes; the limit is {self.config.max_content_bytes} "
                "bytes (max_content_bytes)",
                self.config.max_content_bytes,
            )
        reserved = reserved_keys(list(request.metadata.fields))
        if reserved:
            raise err.invalid_argument(
                "metadata", f"metadata keys starting with '_sage_' are reserved; rename {reserved}"
            )
        if len(request.idempotency_key) > MAX_KEY:
            raise err.invalid_argument(
                "idempotency_key", f"idempotency_key must be at most {MAX_KEY} characters"
            )
        vector = (
            check_vector(request.vector, self.config.dimension, "vector") if request.vector else b""
        )
        memory = await self.store.store(
            session, request.content, request.metadata, vector, request.idempotency_key
        )
        return memory_pb2.StoreMemoryResponse(memory=memory)

    async def SearchMemories(
        self, request: memory_pb2.SearchMemoriesRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb2.SearchMemoriesResponse:
        session = _session(request.session_id, allow_empty=True)
        if not session:  # every session's memories: only an admin may search them all
            require_admin("SearchMemories without a session_id")
        if bool(request.query_text) == bool(request.query_vector):
            raise err.invalid_argument(
                "query_text", "give exactly one of query_text and query_vector"
            )
        top_k = request.top_k or DEFAULT_TOP_K
        if not 1 <= top_k <= MAX_TOP_K:
            raise err.invalid_argument(
                "top_k",
                f"top_k must be 1..{MAX_TOP_K} (0 means {DEFAULT_TOP_K}); got {request.top_k}",
            )
        weight = request.recency_weight
        if math.isnan(weight) or not 0.0 <= weight <= 1.0:
            raise err.invalid_argument(
                "recency_weight",
                "recency_weight must be in 0..1 (0 = similarity only, "
                f"1 = recency only); got {weight}",
            )
        where = json_format.MessageToDict(request.where) if request.HasField("where") else None
        if request.query_vector:
            vector = check_vector(request.query_vector, self.config.dimension, "query_vector")
        else:
            vector = await self.store.embed(request.query_text)
        hits = await self.store.search(session, vector, top_k, where, weight)
        return memory_pb2.SearchMemoriesResponse(
            memories=[memory_pb2.ScoredMemory(memory=m, score=s) for m, s in hits]
        )

    async def GetMemory(
        self, request: memory_pb2.GetMemoryRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb2.GetMemoryResponse:
        return memory_pb2.GetMemoryResponse(memory=await self.store.get(_memory_id(request.id)))

    async def ListSessionMemories(
        self, request: memory_pb2.ListSessionMemoriesRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb2.ListSessionMemoriesResponse:
        session = _session(request.session_id)
        size = request.page_size or DEFAULT_PAGE
        if not 1 <= size <= MAX_PAGE:
            raise err.invalid_argument(
                "page_size",
                f"page_size must be 1..{MAX_PAGE} (0 means {DEFAULT_PAGE}); "
                f"got {request.page_size}",
            )
        return await self.store.list_session(session, size, request.page_token)

    async def DeleteMemory(
        self, request: memory_pb2.DeleteMemoryRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb2.DeleteMemoryResponse:
        await self.store.delete(_memory_id(request.id))
        return memory_pb2.DeleteMemoryResponse()

    async def DeleteSession(
        self, request: memory_pb2.DeleteSessionRequest, context: grpc.aio.ServicerContext
    ) -> memory_pb2.DeleteSessionResponse:
        deleted = await self.store.delete_session(_session(request.session_id))
        return memory_pb2.DeleteSessionResponse(deleted_count=deleted)


def build_spec(config: MemoryConfig) -> ServiceSpec:
    deps = Dependencies(config)
    store = MemoryStore(deps, config)
    servicer = MemoryServicer(store, config)
    sweeper = OrphanSweeper(store, config.orphan_sweep_interval_s)

    async def stop() -> None:
        await sweeper.stop()
        await deps.close()

    return ServiceSpec(
        name="memory",
        service_names=(memory_pb2.DESCRIPTOR.services_by_name["MemoryService"].full_name,),
        add_servicers=lambda server: memory_pb2_grpc.add_MemoryServiceServicer_to_server(
            servicer, server
        ),
        start=sweeper.start,
        stop=stop,
        # NOT_SERVING until KV, VDB and LLM all answer.
        ready=deps.reachable,
        metadata=lambda: {"collection": config.collection, "dimension": config.dimension},
    )
