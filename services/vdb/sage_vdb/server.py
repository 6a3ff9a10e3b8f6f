"""The VDBService servicer: validates requests at the edge, runs vector searches on the native
core's own threads and its other calls in a thread pool (the core releases the GIL), and maps its
exceptions to gRPC statuses."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
import numpy as np
from google.protobuf import struct_pb2

from sage_client.codec.metadata import metadata_to_dict
from sage_client.codec.vdb import (
    DEFAULT_DURABILITY,
    DURABILITIES,
    DURABILITY_NAMES,
    HNSW_DEFAULTS,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    IVF_DEFAULT_NLIST,
    IVF_NLIST,
    MAX_DIMENSION,
    MAX_NLIST_TIMES_DIM,
    METRIC_NAMES,
    METRICS,
    default_nprobe,
    index_message,
)
from sage_client.codec.vectors import FLOAT32, vector_bytes, vectors_view
from sage_proto.vdb.v1 import vdb_pb2, vdb_pb2_grpc
from sage_runtime import ServiceSpec
from sage_runtime import errors as err
from sage_runtime.auth import check_resource
from sage_runtime.paging import decode_key_token, encode_key_token
from sage_vdb.config import VDBConfig
from sage_vdb.convert import hits_to_results, includes, records_to_points, struct_to_filter
from sage_vdb.embedder import TextEmbedder
from sage_vdb.native_searches import NativeSearches
from sage_vdb.store import NAME_RE, CollectionSpec, CollectionStore, OpenCollection

T = TypeVar("T")
MAX_PAGE = 1000
DEFAULT_PAGE = 100
INLINE_WRITE_POINTS = 64
MAX_FILTER_DEPTH = 32


def _within(value: int, bounds: tuple[int, int], field: str, default: int) -> int:
    if value == 0:
        return default
    low, high = bounds
    if not low <= value <= high:
        raise err.invalid_argument(
            field, f"{field} must be {low}..{high} (0 means {default}); got {value}"
        )
    return value


def _index_spec(spec: vdb_pb2.IndexSpec, dimension: int) -> dict[str, Any]:
    kind = spec.WhichOneof("kind")
    if kind == "flat":
        return {"type": "flat"}
    if kind == "ivf":
        nlist = _within(spec.ivf.nlist, IVF_NLIST, "collection.index.ivf.nlist", IVF_DEFAULT_NLIST)
        if nlist * dimension > MAX_NLIST_TIMES_DIM:
            raise err.invalid_argument(
                "collection.index.ivf.nlist",
                f"collection.index.ivf.nlist x dimension must be "
                f"<= {MAX_NLIST_TIMES_DIM} (the IVF centroids); got {nlist} x {dimension}",
            )
        nprobe = _within(
            spec.ivf.nprobe, (1, nlist), "collection.index.ivf.nprobe", default_nprobe(nlist)
        )
        return {"type": "ivf", "nlist": nlist, "nprobe": nprobe}
    h = spec.hnsw
    return {
        "type": "hnsw",
        "M": _within(h.m, HNSW_M, "collection.index.hnsw.m", HNSW_DEFAULTS["M"]),
        "ef_construction": _within(
            h.ef_construction,
            HNSW_EF_CONSTRUCTION,
            "collection.index.hnsw.ef_construction",
            HNSW_DEFAULTS["ef_construction"],
        ),
        "ef_search": _within(
            h.ef_search,
            HNSW_EF_SEARCH,
            "collection.index.hnsw.ef_search",
            HNSW_DEFAULTS["ef_search"],
        ),
    }


def _enum(value: int, allowed: Any, field: str) -> int:
    """proto3 enums are open: an unknown number arrives as itself and must be refused, not ignored."""
    if value not in allowed:
        names = ", ".join(sorted(str(n) for n in allowed))
        raise err.invalid_argument(
            field, f"{field} {value} is not a known value; use one of {names}"
        )
    return value


def _includes(fields: Sequence[int]) -> list[str]:
    for i, value in enumerate(fields):
        _enum(value, _FIELD_VALUES, f"include[{i}]")
    return includes(fields)


def _filter_depth(
    value: struct_pb2.Value | struct_pb2.Struct | struct_pb2.ListValue, field: str
) -> None:
    """Refuses a filter nested deeper than MAX_FILTER_DEPTH (each Struct or list is a level),
    without recursion, before anything converts it."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, struct_pb2.Value):
            kind = node.WhichOneof("kind")
            if kind == "struct_value":
                stack.append((node.struct_value, depth))
            elif kind == "list_value":
                stack.append((node.list_value, depth))
            continue
        if depth > MAX_FILTER_DEPTH:
            raise err.invalid_argument(
                field,
                f"{field} is nested more than {MAX_FILTER_DEPTH} levels deep; flatten the filter",
            )
        children = node.fields.values() if isinstance(node, struct_pb2.Struct) else node.values
        stack.extend((child, depth + 1) for child in children)


_DURABILITY_VALUES = frozenset(vdb_pb2.Durability.values())
_FIELD_VALUES = frozenset(vdb_pb2.Field.values()) - {vdb_pb2.FIELD_UNSPECIFIED}
_FUSION_VALUES = frozenset(vdb_pb2.Fusion.values())


_FILTER_FIELD = re.compile(r"^(where_document|where)\b")


def _field_of(message: str) -> str:
    """The request field a core error is about ("where.year: ..." names where), else queries."""
    named = _FILTER_FIELD.match(message)
    return named.group(1) if named else "queries"


class VDBServicer(vdb_pb2_grpc.VDBServiceServicer):
    def __init__(self, store: CollectionStore, config: VDBConfig, embedder: TextEmbedder) -> None:
        self.store = store
        self.config = config
        self.embedder = embedder
        threads = config.search_threads or (os.cpu_count() or 2)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vdb-native")
        self._searches = NativeSearches(threads)

    # -- helpers --------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any, field: str = "", **kwargs: Any) -> T:
        """Run a native call off the event loop; its ValueError is the caller's bad input."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))
        except ValueError as exc:
            raise err.invalid_argument(field, str(exc)) from None

    def _collection(self, name: str, field: str = "collection") -> OpenCollection:
        if not name:
            raise err.invalid_argument(field, f"{field} must name a collection")
        check_resource("vdb", name)
        opened = self.store.get(name)
        if opened is None:
            existing = ", ".join(self.store.names()[:20]) or "none"
            raise err.not_found(
                f"collection {name!r} does not exist (existing: {existing}); "
                "create it with CreateCollection first",
                collection=name,
            )
        return opened

    def _top_k(self, top_k: int) -> int:
        if not 1 <= top_k <= self.config.max_top_k:
            raise err.invalid_argument(
                "top_k", f"top_k must be 1..{self.config.max_top_k}; got {top_k}"
            )
        return top_k

    def _count(self, n: int, field: str, limit: int, setting: str, hint: str) -> None:
        if n > limit:
            raise err.limit_exceeded(
                field, f"{n} {field} in one call; the limit is {limit} ({setting}); {hint}", limit
            )

    @staticmethod
    def _filter(message: Any, name: str) -> dict[str, Any] | None:
        present = message.HasField(name)
        if present:
            _filter_depth(getattr(message, name), name)
        return struct_to_filter(getattr(message, name), present)

    def _vectors(self, data: bytes, rows: int, dim: int, field: str, what: str) -> np.ndarray:
        expected = rows * dim * FLOAT32.itemsize
        if len(data) != expected:
            floats = len(data) / FLOAT32.itemsize
            raise err.invalid_argument(
                field,
                f"{field} holds {len(data)} bytes ({floats:g} float32 values) but {rows} {what} of "
                f"dimension {dim} need {expected} bytes; send {rows} x {dim} packed little-endian float32 values "
                "(the collection's dimension is fixed at creation)",
                dimension=str(dim),
            )
        return vectors_view(data, rows, dim)

    async def _points(
        self, col: OpenCollection, points: vdb_pb2.Points, field: str
    ) -> tuple[list[str], np.ndarray, Any, Any]:
        ids = list(points.ids)
        n, dim = len(ids), col.spec.dimension
        self._count(
            n,
            f"{field}.ids",
            self.config.max_batch_points,
            "max_batch_points",
            "split the batch or stream it with UpsertStream",
        )
        if points.metadatas and len(points.metadatas) != n:
            raise err.invalid_argument(
                f"{field}.metadatas",
                f"{len(points.metadatas)} metadatas for {n} ids; send none or one per id",
            )
        if points.documents and len(points.documents) != n:
            raise err.invalid_argument(
                f"{field}.documents",
                f"{len(points.documents)} documents for {n} ids; send none or one per id",
            )
        if not points.vectors and n and col.spec.embedding_model:
            if not points.documents:
                raise err.invalid_argument(
                    f"{field}.vectors",
                    "give vectors, or documents for the collection's "
                    f"embedding model {col.spec.embedding_model!r} to embed",
                )
            vectors = await self.embedder.embed(
                col.spec.embedding_model, list(points.documents), dim, f"{field}.documents"
            )
        else:
            vectors = self._vectors(points.vectors, n, dim, f"{field}.vectors", "ids")
        metadatas = [metadata_to_dict(m) for m in points.metadatas] if points.metadatas else None
        documents = list(points.documents) if points.documents else None
        return ids, vectors, metadatas, documents

    async def _queries(
        self, col: OpenCollection, data: bytes, texts: Sequence[str], required: bool = True
    ) -> np.ndarray:
        dim = col.spec.dimension
        if data:
            if len(data) % (dim * FLOAT32.itemsize):
                raise err.invalid_argument(
                    "queries",
                    f"queries holds {len(data)} bytes, not a whole number of {dim}-dimensional float32 "
                    f"vectors ({dim * 4} bytes each); the collection's dimension is {dim}",
                    dimension=str(dim),
                )
            nq = len(data) // (dim * FLOAT32.itemsize)
            self._count(
                nq,
                "queries",
                self.config.max_queries,
                "max_queries",
                "split them over several calls",
            )
            return vectors_view(data, nq, dim)
        if texts:
            if not col.spec.embedding_model:
                raise err.invalid_argument(
                    "query_texts",
                    f"collection {col.spec.name!r} has no embedding model, so query_texts cannot be "
                    "embedded; send query vectors, or use SearchText for BM25",
                )
            self._count(
                len(texts),
                "query_texts",
                self.config.max_queries,
                "max_queries",
                "split them over several calls",
            )
            return await self.embedder.embed(
                col.spec.embedding_model, list(texts), dim, "query_texts"
            )
        if required:
            raise err.invalid_argument(
                "queries", "send queries (packed float32 vectors) or query_texts"
            )
        return np.empty((0, dim), dtype=np.float32)

    def _durable(self, col: OpenCollection, durability: int) -> bool:
        _enum(durability, _DURABILITY_VALUES, "durability")
        chosen = DURABILITY_NAMES.get(durability, col.spec.durability)
        return chosen == "sync"

    async def _write_done(self, col: OpenCollection, durability: int) -> None:
        if self._durable(col, durability):
            await self._run(col.core.flush)

    def _upserted_now(
        self,
        col: OpenCollection,
        durability: int,
        ids: list[str],
        vectors: np.ndarray,
        metadatas: Any,
        documents: Any,
    ) -> bool:
        """A small write that needs no fsync is applied on the event loop when the core can take it
        without waiting (its graph insertion is left to the core's indexer): handing it to a pool
        thread and back costs more than the write, about a millisecond on an idle server."""
        if len(ids) > INLINE_WRITE_POINTS or self._durable(col, durability):
            return False
        try:
            return col.core.upsert(ids, vectors, metadatas, documents, wait=False)
        except ValueError as exc:
            raise err.invalid_argument("points", str(exc)) from None

    async def _write(
        self, col: OpenCollection, durability: int, write: Callable[..., T], *args: Any, field: str
    ) -> T:
        """A write and, when it is durable, the fsync of the log, in one pool call: one hand-off."""
        durable = self._durable(col, durability)

        def write_then_sync() -> T:
            result = write(*args)
            if durable:
                col.core.flush()
            return result

        return await self._run(write_then_sync, field=field)

    def _describe(self, col: OpenCollection) -> vdb_pb2.Collection:
        spec = col.spec
        return vdb_pb2.Collection(
            name=spec.name,
            dimension=spec.dimension,
            metric=METRICS[spec.metric],
            index=index_message(spec.index),
            embedding_model=spec.embedding_model,
            durability=DURABILITIES[spec.durability],
            count=col.core.count(),
        )

    def _vectors_of(self, col: OpenCollection) -> Callable[[list[str]], bytes]:
        def fetch(ids: list[str]) -> bytes:
            found = col.core.get(ids, include=["vectors"])
            return vector_bytes(found["vectors"])

        return fetch

    # -- collections ------------------------------------------------------------
    async def CreateCollection(
        self, request: vdb_pb2.CreateCollectionRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.CreateCollectionResponse:
        c = request.collection
        if not NAME_RE.fullmatch(c.name):
            raise err.invalid_argument(
                "collection.name",
                f"collection.name must be 1..128 letters, digits, '_' or '-'; got {c.name[:40]!r}",
            )
        check_resource("vdb", c.name)
        if not 1 <= c.dimension <= MAX_DIMENSION:
            raise err.invalid_argument(
                "collection.dimension",
                f"collection.dimension must be 1..{MAX_DIMENSION}; got {c.dimension}",
            )
        if c.metric not in METRIC_NAMES:
            raise err.invalid_argument(
                "collection.metric",
                f"unknown metric {c.metric}; use METRIC_L2, METRIC_IP or METRIC_COSINE",
            )
        _enum(c.durability, _DURABILITY_VALUES, "collection.durability")
        spec = CollectionSpec(
            name=c.name,
            dimension=c.dimension,
            metric=METRIC_NAMES[c.metric],
            index=_index_spec(c.index, c.dimension),
            embedding_model=c.embedding_model,
            durability=DURABILITY_NAMES.get(c.durability, DEFAULT_DURABILITY),
        )
        try:
            opened = await self._run(self.store.create, spec, field="collection.index")
        except FileExistsError:
            raise err.already_exists(
                f"collection {c.name!r} already exists; delete it first or pick another name",
                collection=c.name,
            ) from None
        return vdb_pb2.CreateCollectionResponse(collection=self._describe(opened))

    async def GetCollection(
        self, request: vdb_pb2.GetCollectionRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.GetCollectionResponse:
        col = self._collection(request.name, "name")
        described = self._describe(col)
        stats = await self._run(col.core.stats)
        described.stats.update(
            {k: v for k, v in stats.items() if isinstance(v, bool | int | float | str)}
        )
        return vdb_pb2.GetCollectionResponse(collection=described)

    async def ListCollections(
        self, request: vdb_pb2.ListCollectionsRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.ListCollectionsResponse:
        size = request.page_size or DEFAULT_PAGE
        if not 1 <= size <= MAX_PAGE:
            raise err.invalid_argument(
                "page_size", f"page_size must be 1..{MAX_PAGE}; got {request.page_size}"
            )
        after = decode_key_token(request.page_token, "ListCollections")
        names = [n for n in self.store.names() if n > after]
        page = names[:size]
        out = [self._describe(c) for c in (self.store.get(n) for n in page) if c is not None]
        token = encode_key_token(page[-1]) if len(names) > size else ""
        return vdb_pb2.ListCollectionsResponse(collections=out, next_page_token=token)

    async def DeleteCollection(
        self, request: vdb_pb2.DeleteCollectionRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.DeleteCollectionResponse:
        self._collection(request.name, "name")
        await self._run(self.store.delete, request.name)
        return vdb_pb2.DeleteCollectionResponse()

    # -- writes ---------------------------------------------------------------------
    async def Upsert(
        self, request: vdb_pb2.UpsertRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.UpsertResponse:
        col = self._collection(request.collection)
        ids, vectors, metadatas, documents = await self._points(col, request.points, "points")
        if ids and not self._upserted_now(
            col, request.durability, ids, vectors, metadatas, documents
        ):
            await self._write(
                col,
                request.durability,
                col.core.upsert,
                ids,
                vectors,
                metadatas,
                documents,
                field="points",
            )
        return vdb_pb2.UpsertResponse(upserted_count=len(ids))

    async def UpsertStream(
        self,
        request_iterator: AsyncIterator[vdb_pb2.UpsertStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> vdb_pb2.UpsertStreamResponse:
        col: OpenCollection | None = None
        durability = vdb_pb2.DURABILITY_UNSPECIFIED
        applied = sent = 0
        pending: asyncio.Future[None] | None = None
        loop = asyncio.get_running_loop()
        try:
            async for message in request_iterator:
                if col is None:
                    col = self._collection(message.collection)
                elif message.collection and message.collection != col.spec.name:
                    raise err.invalid_argument(
                        "collection",
                        f"a stream writes one collection; got "
                        f"{message.collection!r} after {col.spec.name!r}",
                    )
                _enum(message.durability, _DURABILITY_VALUES, "durability")
                durability = message.durability or durability
                ids, vectors, metadatas, documents = await self._points(
                    col, message.points, "points"
                )
                if pending is not None:
                    # Batches are applied in order; the next one is decoded while the previous is applied.
                    await pending
                    pending, applied = None, sent
                if ids:
                    pending = loop.run_in_executor(
                        self._executor, col.core.upsert, ids, vectors, metadatas, documents
                    )
                    sent += len(ids)
            if pending is not None:
                await pending
                pending, applied = None, sent
        except ValueError as exc:
            raise err.invalid_argument(
                "points", f"{exc}; the {applied} points before this batch were written"
            ) from None
        finally:
            if pending is not None:
                await asyncio.gather(pending, return_exceptions=True)
        written = applied
        if col is not None and written:
            await self._write_done(col, durability)
        return vdb_pb2.UpsertStreamResponse(upserted_count=written)

    async def GetPoints(
        self, request: vdb_pb2.GetPointsRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.GetPointsResponse:
        col = self._collection(request.collection)
        self._count(
            len(request.ids),
            "ids",
            self.config.max_batch_points,
            "max_batch_points",
            "read them over several calls",
        )
        if not request.ids:
            raise err.invalid_argument("ids", "ids must name at least one point")
        records = await self._run(
            col.core.get, list(request.ids), include=_includes(request.include), field="ids"
        )
        return vdb_pb2.GetPointsResponse(points=records_to_points(records))

    async def DeletePoints(
        self, request: vdb_pb2.DeletePointsRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.DeletePointsResponse:
        col = self._collection(request.collection)
        where = self._filter(request, "where")
        where_document = self._filter(request, "where_document")
        if not request.ids and not where and not where_document:
            raise err.invalid_argument(
                "ids",
                "give ids, where or where_document; deleting everything needs DeleteCollection",
            )
        deleted = await self._write(
            col,
            request.durability,
            col.core.delete,
            list(request.ids) or None,
            where,
            where_document,
            field="where",
        )
        return vdb_pb2.DeletePointsResponse(deleted_count=deleted)

    # -- reads ------------------------------------------------------------------------
    async def Search(
        self, request: vdb_pb2.SearchRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.SearchResponse:
        col = self._collection(request.collection)
        k = self._top_k(request.top_k)
        queries = await self._queries(col, request.queries, request.query_texts)
        fields = _includes(request.include)
        native_fields = [f for f in fields if f != "vectors"]
        where, where_document = (
            self._filter(request, "where"),
            self._filter(request, "where_document"),
        )
        try:
            hits = await self._searches.search(
                col.core, queries, k, where, where_document, native_fields
            )
        except ValueError as exc:
            raise err.invalid_argument(_field_of(str(exc)), str(exc)) from None
        vectors_of = self._vectors_of(col) if "vectors" in fields else None
        return vdb_pb2.SearchResponse(results=hits_to_results(hits, vectors_of))

    async def SearchText(
        self, request: vdb_pb2.SearchTextRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.SearchTextResponse:
        col = self._collection(request.collection)
        k = self._top_k(request.top_k)
        if not request.query_texts:
            raise err.invalid_argument("query_texts", "query_texts must hold at least one query")
        self._count(
            len(request.query_texts),
            "query_texts",
            self.config.max_queries,
            "max_queries",
            "split them over several calls",
        )
        fields = _includes(request.include)
        hits = await self._run(
            col.core.search_text,
            list(request.query_texts),
            k,
            self._filter(request, "where"),
            None,
            [f for f in fields if f != "vectors"],
            field="where",
        )
        vectors_of = self._vectors_of(col) if "vectors" in fields else None
        return vdb_pb2.SearchTextResponse(results=hits_to_results(hits, vectors_of))

    async def HybridSearch(
        self, request: vdb_pb2.HybridSearchRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.HybridSearchResponse:
        col = self._collection(request.collection)
        k = self._top_k(request.top_k)
        if not request.query_texts:
            raise err.invalid_argument(
                "query_texts", "HybridSearch needs one query text per query for BM25"
            )
        queries = await self._queries(col, request.queries, request.query_texts)
        if len(queries) != len(request.query_texts):
            raise err.invalid_argument(
                "query_texts",
                f"{len(request.query_texts)} query_texts for {len(queries)} "
                "query vectors; send one text per vector",
            )
        if not 0.0 <= request.alpha <= 1.0:
            raise err.invalid_argument("alpha", f"alpha must be 0..1; got {request.alpha}")
        _enum(request.fusion, _FUSION_VALUES, "fusion")
        fusion = "weighted" if request.fusion == vdb_pb2.FUSION_WEIGHTED else "rrf"
        fields = _includes(request.include)
        hits = await self._run(
            col.core.hybrid_search,
            queries,
            list(request.query_texts),
            k,
            fusion,
            request.alpha if fusion == "weighted" else 0.5,
            self._filter(request, "where"),
            None,
            [f for f in fields if f != "vectors"],
            field="where",
        )
        vectors_of = self._vectors_of(col) if "vectors" in fields else None
        return vdb_pb2.HybridSearchResponse(results=hits_to_results(hits, vectors_of))

    # -- maintenance ----------------------------------------------------------------
    async def Flush(
        self, request: vdb_pb2.FlushRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.FlushResponse:
        col = self._collection(request.collection)
        await self._run(col.core.flush)
        await self._run(col.core.snapshot)
        return vdb_pb2.FlushResponse()

    async def Compact(
        self, request: vdb_pb2.CompactRequest, context: grpc.aio.ServicerContext
    ) -> vdb_pb2.CompactResponse:
        col = self._collection(request.collection)
        await self._run(col.core.compact)
        return vdb_pb2.CompactResponse()

    def close(self) -> None:
        self._searches.close()
        self._executor.shutdown(wait=True)


def build_spec(config: VDBConfig) -> ServiceSpec:
    store = CollectionStore(config.data_dir)
    embedder = TextEmbedder(config.llm_address, config.embed_batch)
    servicer = VDBServicer(store, config, embedder)

    async def start() -> None:
        await asyncio.to_thread(store.open_all)

    async def stop() -> None:
        await embedder.close()
        servicer.close()
        await asyncio.to_thread(store.close)

    return ServiceSpec(
        name="vdb",
        service_names=(vdb_pb2.DESCRIPTOR.services_by_name["VDBService"].full_name,),
        add_servicers=lambda server: vdb_pb2_grpc.add_VDBServiceServicer_to_server(
            servicer, server
        ),
        start=start,
        stop=stop,
        metadata=lambda: {"collections": len(store.names())},
    )
