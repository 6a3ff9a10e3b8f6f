"""Typed clients of the VDB service: ``VDBClient`` (blocking) and ``AsyncVDBClient``, both derived
from one definition of each unary method (``_VDBCalls``; see ``sage_client.calls``).

    vdb = VDBClient()                                   # SAGE_VDB_ADDR / SAGE_ETCD_ENDPOINTS
    vdb.create_collection("docs", dimension=384, index={"type": "hnsw", "M": 16})
    vdb.upsert("docs", ["a", "b"], vectors, metadatas=[{"year": 2024}, {"year": 2021}])
    hits = vdb.search("docs", queries, top_k=5, where={"year": {"$gte": 2022}})
    hits[0].ids, hits[0].scores                          # one QueryResult per query
    vdb.bulk_upsert("docs", ids, vectors, batch_size=4096)   # client-streaming bulk load

Vectors go out as one packed float32 buffer per request and come back as numpy views.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import grpc
import numpy as np
import numpy.typing as npt

from sage_client.calls import Pages, Unary, awaited, awaited_all, blocking, blocking_all
from sage_client.channels import MAX_MESSAGE
from sage_client.client_base import AsyncClient, BlockingClient
from sage_client.codec.metadata import dict_to_metadata, metadata_to_dict
from sage_client.codec.vdb import (
    DEFAULT_DURABILITY,
    DEFAULT_METRIC,
    DURABILITY_NAMES,
    FUSIONS,
)
from sage_client.codec.vdb import INCLUDES as _FIELDS
from sage_client.codec.vdb import METRIC_NAMES as _METRIC_NAMES
from sage_client.codec.vdb import METRICS as _METRICS
from sage_client.codec.vdb import WRITE_DURABILITIES as _DURABILITY
from sage_client.codec.vdb import index_dict as _index_dict
from sage_client.codec.vdb import index_message as _index_message
from sage_client.codec.vectors import FLOAT32, pack_vectors, unpack_vectors
from sage_client.discovery import Resolver
from sage_client.errors import InvalidArgument
from sage_proto.common.v1 import common_pb2
from sage_proto.vdb.v1 import vdb_pb2, vdb_pb2_grpc

Durability = Literal["sync", "async"] | None
Include = Literal["metadatas", "documents", "vectors"]
Filter = Mapping[str, Any] | None
# A point's metadata: a dict of str/int/float/bool/list[str], or a ``common.v1.Metadata`` as it is.
PointMetadata = Mapping[str, Any] | common_pb2.Metadata | None

# Leave room for ids, metadata and framing under the channel's message limit.
DEFAULT_STREAM_BATCH_BYTES = 8 * 1024 * 1024


@dataclass
class CollectionInfo:
    name: str
    dimension: int
    metric: str
    index: dict[str, Any]
    embedding_model: str
    durability: str
    count: int
    stats: dict[str, Any]


@dataclass
class QueryResult:
    """The hits of one query, best first."""

    ids: list[str]
    scores: list[float]
    metadatas: list[dict[str, Any]] | None = None
    documents: list[str] | None = None
    vectors: np.ndarray | None = None


@dataclass
class Points:
    ids: list[str]
    vectors: np.ndarray | None = None
    metadatas: list[dict[str, Any]] | None = None
    documents: list[str] | None = None


# -- request building and response decoding (shared by both clients) ----------------------------
def _collection_info(c: vdb_pb2.Collection) -> CollectionInfo:
    from google.protobuf import json_format

    return CollectionInfo(
        name=c.name,
        dimension=c.dimension,
        metric=_METRIC_NAMES.get(c.metric, DEFAULT_METRIC),
        index=_index_dict(c.index),
        embedding_model=c.embedding_model,
        durability=DURABILITY_NAMES.get(c.durability, DEFAULT_DURABILITY),
        count=c.count,
        stats=json_format.MessageToDict(c.stats) if c.HasField("stats") else {},
    )


def _create_request(
    name: str,
    dimension: int,
    metric: str,
    index: str | Mapping[str, Any],
    embedding_model: str,
    durability: Durability,
) -> vdb_pb2.CreateCollectionRequest:
    if metric not in _METRICS:
        raise InvalidArgument(
            f"unknown metric {metric!r}; use 'l2', 'ip' or 'cosine'", field="metric"
        )
    return vdb_pb2.CreateCollectionRequest(
        collection=vdb_pb2.Collection(
            name=name,
            dimension=dimension,
            metric=_METRICS[metric],
            index=_index_message(index),
            embedding_model=embedding_model,
            durability=_DURABILITY[durability],
        )
    )


def _points(
    ids: Sequence[str],
    vectors: npt.ArrayLike | None,
    metadatas: Sequence[PointMetadata] | None,
    documents: Sequence[str | None] | None,
) -> vdb_pb2.Points:
    points = vdb_pb2.Points(ids=list(ids))
    if vectors is not None:
        try:
            points.vectors, rows = pack_vectors(vectors)
        except ValueError as exc:
            raise InvalidArgument(str(exc), field="vectors") from None
        if rows != len(ids):
            raise InvalidArgument(
                f"{rows} vectors for {len(ids)} ids; send one vector per id", field="vectors"
            )
    if metadatas is not None:
        points.metadatas.extend(
            m if isinstance(m, common_pb2.Metadata) else dict_to_metadata(m) for m in metadatas
        )
    if documents is not None:
        points.documents.extend(d or "" for d in documents)
    return points


def _upsert_request(
    collection: str,
    ids: Sequence[str],
    vectors: npt.ArrayLike | None,
    metadatas: Sequence[PointMetadata] | None,
    documents: Sequence[str | None] | None,
    durability: Durability,
) -> vdb_pb2.UpsertRequest:
    request = vdb_pb2.UpsertRequest(
        collection=collection,
        points=_points(ids, vectors, metadatas, documents),
        durability=_DURABILITY[durability],
    )
    size = request.ByteSize()
    if size > MAX_MESSAGE:
        raise InvalidArgument(
            f"this upsert is {size} bytes, over the {MAX_MESSAGE}-byte message limit; send fewer points per "
            "call or use bulk_upsert(), which streams batches",
            field="points",
            metadata={"limit": str(MAX_MESSAGE)},
        )
    return request


def _stream_requests(
    collection: str, batches: Iterable[Points | Mapping[str, Any]], durability: Durability
) -> Iterator[vdb_pb2.UpsertStreamRequest]:
    for batch in batches:
        b = batch if isinstance(batch, Points) else Points(**batch)
        yield vdb_pb2.UpsertStreamRequest(
            collection=collection,
            points=_points(b.ids, b.vectors, b.metadatas, b.documents),
            durability=_DURABILITY[durability],
        )


class _Recorded:
    """Iterates the caller's batches for gRPC and keeps the caller's own exception: gRPC would
    report it only as a cancelled call."""

    def __init__(self, requests: Iterator[vdb_pb2.UpsertStreamRequest]) -> None:
        self._requests = requests
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[vdb_pb2.UpsertStreamRequest]:
        try:
            yield from self._requests
        except Exception as exc:
            self.error = exc
            raise


def _batches(
    ids: Sequence[str],
    vectors: npt.ArrayLike | None,
    metadatas: Sequence[Any] | None,
    documents: Sequence[Any] | None,
    batch_size: int | None,
) -> Iterator[Points]:
    array = None if vectors is None else np.ascontiguousarray(vectors, dtype=FLOAT32)
    if batch_size is None:
        row_bytes = array.shape[-1] * 4 if array is not None else 256
        batch_size = max(1, DEFAULT_STREAM_BATCH_BYTES // row_bytes)
    for start in range(0, len(ids), batch_size):
        end = start + batch_size
        yield Points(
            ids=list(ids[start:end]),
            vectors=None if array is None else array[start:end],
            metadatas=None if metadatas is None else list(metadatas[start:end]),
            documents=None if documents is None else list(documents[start:end]),
        )


def _filters(target: Any, where: Filter, where_document: Filter = None) -> None:
    if where is not None:
        target.where.update(dict(where))
    if where_document is not None:
        target.where_document.update(dict(where_document))


def _include(include: Sequence[Include]) -> list[Any]:
    unknown = [f for f in include if f not in _FIELDS]
    if unknown:
        raise InvalidArgument(
            f"unknown include field(s) {unknown}; use {sorted(_FIELDS)}", field="include"
        )
    return [_FIELDS[f] for f in include]


def _queries(queries: npt.ArrayLike | None) -> bytes:
    if queries is None:
        return b""
    try:
        return pack_vectors(queries)[0]
    except ValueError as exc:
        raise InvalidArgument(str(exc), field="queries") from None


def _search_request(
    collection: str,
    queries: npt.ArrayLike | None,
    query_texts: Sequence[str] | None,
    top_k: int,
    where: Filter,
    where_document: Filter,
    include: Sequence[Include],
) -> vdb_pb2.SearchRequest:
    request = vdb_pb2.SearchRequest(
        collection=collection,
        queries=_queries(queries),
        query_texts=query_texts or (),
        top_k=top_k,
        include=_include(include),
    )
    _filters(request, where, where_document)
    return request


def _text_request(
    collection: str,
    query_texts: Sequence[str],
    top_k: int,
    where: Filter,
    include: Sequence[Include],
) -> vdb_pb2.SearchTextRequest:
    if isinstance(query_texts, str):
        query_texts = [query_texts]
    request = vdb_pb2.SearchTextRequest(
        collection=collection, query_texts=query_texts, top_k=top_k, include=_include(include)
    )
    _filters(request, where)
    return request


def _hybrid_request(
    collection: str,
    queries: npt.ArrayLike | None,
    query_texts: Sequence[str],
    top_k: int,
    fusion: str,
    alpha: float,
    where: Filter,
    include: Sequence[Include],
) -> vdb_pb2.HybridSearchRequest:
    if fusion not in FUSIONS:
        raise InvalidArgument(f"unknown fusion {fusion!r}; use 'rrf' or 'weighted'", field="fusion")
    if isinstance(query_texts, str):
        query_texts = [query_texts]
    request = vdb_pb2.HybridSearchRequest(
        collection=collection,
        queries=_queries(queries),
        query_texts=query_texts,
        top_k=top_k,
        fusion=FUSIONS[fusion],
        alpha=alpha,
        include=_include(include),
    )
    _filters(request, where)
    return request


def _delete_request(
    collection: str,
    ids: Sequence[str] | None,
    where: Filter,
    where_document: Filter,
    durability: Durability,
) -> vdb_pb2.DeletePointsRequest:
    request = vdb_pb2.DeletePointsRequest(
        collection=collection, ids=list(ids or ()), durability=_DURABILITY[durability]
    )
    _filters(request, where, where_document)
    return request


def _results(results: Iterable[vdb_pb2.QueryResult]) -> list[QueryResult]:
    out = []
    for r in results:
        n = len(r.ids)
        out.append(
            QueryResult(
                ids=list(r.ids),
                scores=list(r.scores),
                metadatas=[metadata_to_dict(m) for m in r.metadatas] if r.metadatas else None,
                documents=list(r.documents) if r.documents else None,
                vectors=unpack_vectors(r.vectors, n) if r.vectors else None,
            )
        )
    return out


def _points_out(p: vdb_pb2.Points) -> Points:
    return Points(
        ids=list(p.ids),
        vectors=unpack_vectors(p.vectors, len(p.ids)) if p.vectors else None,
        metadatas=[metadata_to_dict(m) for m in p.metadatas] if p.metadatas else None,
        documents=list(p.documents) if p.documents else None,
    )


_DEFAULT_INCLUDE: tuple[Include, ...] = ("metadatas", "documents")


class _VDBCalls:
    """Every unary VDB method, written once: its request and how its reply decodes."""

    # collections
    def _create_collection(
        self,
        name: str,
        dimension: int,
        *,
        metric: str = "cosine",
        index: str | Mapping[str, Any] = "hnsw",
        embedding_model: str = "",
        durability: Durability = "sync",
    ) -> Unary[CollectionInfo]:
        request = _create_request(name, dimension, metric, index, embedding_model, durability)
        return Unary("CreateCollection", request, False, _collection_of)

    def _get_collection(self, name: str) -> Unary[CollectionInfo]:
        return Unary("GetCollection", vdb_pb2.GetCollectionRequest(name=name), True, _collection_of)

    def _list_collections(self, *, page_size: int = 100) -> Pages[CollectionInfo]:
        return Pages(
            "ListCollections",
            lambda token: vdb_pb2.ListCollectionsRequest(page_size=page_size, page_token=token),
            lambda reply: (_collection_info(c) for c in reply.collections),
        )

    def _delete_collection(self, name: str) -> Unary[None]:
        return Unary(
            "DeleteCollection", vdb_pb2.DeleteCollectionRequest(name=name), False, _nothing
        )

    # writes
    def _upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: npt.ArrayLike | None = None,
        *,
        metadatas: Sequence[PointMetadata] | None = None,
        documents: Sequence[str | None] | None = None,
        durability: Durability = None,
    ) -> Unary[int]:
        """Insert or replace points (vectors, or documents when the collection embeds)."""
        request = _upsert_request(collection, ids, vectors, metadatas, documents, durability)
        return Unary("Upsert", request, True, lambda reply: int(reply.upserted_count))

    def _delete(
        self,
        collection: str,
        ids: Sequence[str] | None = None,
        *,
        where: Filter = None,
        where_document: Filter = None,
        durability: Durability = None,
    ) -> Unary[int]:
        request = _delete_request(collection, ids, where, where_document, durability)
        return Unary("DeletePoints", request, True, lambda reply: int(reply.deleted_count))

    # reads
    def _get(
        self, collection: str, ids: Sequence[str], *, include: Sequence[Include] = _DEFAULT_INCLUDE
    ) -> Unary[Points]:
        request = vdb_pb2.GetPointsRequest(
            collection=collection, ids=list(ids), include=_include(include)
        )
        return Unary("GetPoints", request, True, lambda reply: _points_out(reply.points))

    def _search(
        self,
        collection: str,
        queries: npt.ArrayLike | None = None,
        *,
        query_texts: Sequence[str] | None = None,
        top_k: int = 10,
        where: Filter = None,
        where_document: Filter = None,
        include: Sequence[Include] = (),
    ) -> Unary[list[QueryResult]]:
        """One QueryResult per query; ``queries`` is (nq, dimension) or one vector."""
        request = _search_request(
            collection, queries, query_texts, top_k, where, where_document, include
        )
        return Unary("Search", request, True, _results_of)

    def _search_text(
        self,
        collection: str,
        query_texts: Sequence[str],
        *,
        top_k: int = 10,
        where: Filter = None,
        include: Sequence[Include] = (),
    ) -> Unary[list[QueryResult]]:
        request = _text_request(collection, query_texts, top_k, where, include)
        return Unary("SearchText", request, True, _results_of)

    def _hybrid_search(
        self,
        collection: str,
        queries: npt.ArrayLike | None,
        query_texts: Sequence[str],
        *,
        top_k: int = 10,
        fusion: str = "rrf",
        alpha: float = 0.5,
        where: Filter = None,
        include: Sequence[Include] = (),
    ) -> Unary[list[QueryResult]]:
        request = _hybrid_request(
            collection, queries, query_texts, top_k, fusion, alpha, where, include
        )
        return Unary("HybridSearch", request, True, _results_of)

    # maintenance
    def _flush(self, collection: str) -> Unary[None]:
        return Unary("Flush", vdb_pb2.FlushRequest(collection=collection), True, _nothing)

    def _compact(self, collection: str) -> Unary[None]:
        return Unary("Compact", vdb_pb2.CompactRequest(collection=collection), True, _nothing)


def _collection_of(reply: Any) -> CollectionInfo:
    return _collection_info(reply.collection)


def _results_of(reply: Any) -> list[QueryResult]:
    return _results(reply.results)


def _nothing(reply: Any) -> None:
    return None


class VDBClient(BlockingClient, _VDBCalls):
    """Blocking client of ``sage.vdb.v1.VDBService``."""

    def __init__(
        self,
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 60.0,
    ) -> None:
        self._connect("vdb", vdb_pb2_grpc.VDBServiceStub, address, resolver, token, timeout)

    create_collection = blocking(_VDBCalls._create_collection)
    get_collection = blocking(_VDBCalls._get_collection)
    list_collections = blocking_all(_VDBCalls._list_collections)
    delete_collection = blocking(_VDBCalls._delete_collection)
    upsert = blocking(_VDBCalls._upsert)
    delete = blocking(_VDBCalls._delete)
    get = blocking(_VDBCalls._get)
    search = blocking(_VDBCalls._search)
    search_text = blocking(_VDBCalls._search_text)
    hybrid_search = blocking(_VDBCalls._hybrid_search)
    flush = blocking(_VDBCalls._flush)
    compact = blocking(_VDBCalls._compact)

    def upsert_stream(
        self,
        collection: str,
        batches: Iterable[Points | Mapping[str, Any]],
        *,
        durability: Durability = None,
    ) -> int:
        """Stream batches of points in one call (bulk load); acknowledged once, at the end."""
        requests = _Recorded(_stream_requests(collection, batches, durability))
        try:
            reply = self._ch.stream("UpsertStream", iter(requests))
        except grpc.RpcError as exc:
            if requests.error is not None:
                raise requests.error from None
            raise self._ch.rpc_error(exc, "UpsertStream") from None
        return int(reply.upserted_count)

    def bulk_upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: npt.ArrayLike | None = None,
        *,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        documents: Sequence[str | None] | None = None,
        batch_size: int | None = None,
        durability: Durability = None,
    ) -> int:
        """Upsert many points as a stream of batches (about 8 MiB each unless ``batch_size`` is given)."""
        return self.upsert_stream(
            collection,
            _batches(ids, vectors, metadatas, documents, batch_size),
            durability=durability,
        )


class AsyncVDBClient(AsyncClient, _VDBCalls):
    """asyncio client of ``sage.vdb.v1.VDBService``; same methods as VDBClient, awaited.
    Create it inside the event loop that uses it."""

    def __init__(
        self,
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 60.0,
    ) -> None:
        self._connect("vdb", vdb_pb2_grpc.VDBServiceStub, address, resolver, token, timeout)

    create_collection = awaited(_VDBCalls._create_collection)
    get_collection = awaited(_VDBCalls._get_collection)
    list_collections = awaited_all(_VDBCalls._list_collections)
    delete_collection = awaited(_VDBCalls._delete_collection)
    upsert = awaited(_VDBCalls._upsert)
    delete = awaited(_VDBCalls._delete)
    get = awaited(_VDBCalls._get)
    search = awaited(_VDBCalls._search)
    search_text = awaited(_VDBCalls._search_text)
    hybrid_search = awaited(_VDBCalls._hybrid_search)
    flush = awaited(_VDBCalls._flush)
    compact = awaited(_VDBCalls._compact)

    async def upsert_stream(
        self,
        collection: str,
        batches: Iterable[Points | Mapping[str, Any]] | AsyncIterable[Points | Mapping[str, Any]],
        *,
        durability: Durability = None,
    ) -> int:
        failure: list[BaseException] = []

        async def requests() -> AsyncIterator[vdb_pb2.UpsertStreamRequest]:
            try:
                if isinstance(batches, AsyncIterable):
                    async for batch in batches:
                        for message in _stream_requests(collection, [batch], durability):
                            yield message
                else:
                    for message in _stream_requests(collection, batches, durability):
                        yield message
            except Exception as exc:
                failure.append(exc)
                raise

        try:
            reply = await self._ch.stream("UpsertStream", requests())
        except grpc.RpcError as exc:
            if failure:
                raise failure[0] from None
            raise self._ch.rpc_error(exc, "UpsertStream") from None
        return int(reply.upserted_count)

    async def bulk_upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: npt.ArrayLike | None = None,
        *,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        documents: Sequence[str | None] | None = None,
        batch_size: int | None = None,
        durability: Durability = None,
    ) -> int:
        return await self.upsert_stream(
            collection,
            _batches(ids, vectors, metadatas, documents, batch_size),
            durability=durability,
        )
