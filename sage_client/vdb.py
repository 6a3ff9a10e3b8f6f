"""Typed clients of the VDB service: ``VDBClient`` (blocking) and ``AsyncVDBClient``.

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

from sage_client.channels import MAX_MESSAGE, AsyncServiceChannels, ServiceChannels
from sage_client.discovery import Resolver
from sage_client.errors import InvalidArgument
from sage_client.vdb_codec import dict_to_metadata, metadata_to_dict, pack_vectors, unpack_vectors
from sage_proto.vdb.v1 import vdb_pb2, vdb_pb2_grpc

Durability = Literal["sync", "async"] | None
Include = Literal["metadatas", "documents", "vectors"]
Filter = Mapping[str, Any] | None

_METRICS = {"l2": vdb_pb2.METRIC_L2, "ip": vdb_pb2.METRIC_IP, "cosine": vdb_pb2.METRIC_COSINE}
_METRIC_NAMES = {v: k for k, v in _METRICS.items()}
_DURABILITY = {None: vdb_pb2.DURABILITY_UNSPECIFIED, "sync": vdb_pb2.DURABILITY_SYNC, "async": vdb_pb2.DURABILITY_ASYNC}
_DURABILITY_NAMES = {vdb_pb2.DURABILITY_SYNC: "sync", vdb_pb2.DURABILITY_ASYNC: "async"}
_FIELDS = {"metadatas": vdb_pb2.FIELD_METADATA, "documents": vdb_pb2.FIELD_DOCUMENT, "vectors": vdb_pb2.FIELD_VECTOR}
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
def _index_message(index: str | Mapping[str, Any]) -> vdb_pb2.IndexSpec:
    spec: dict[str, Any] = {"type": index} if isinstance(index, str) else dict(index)
    kind = spec.get("type", "hnsw")
    if kind == "flat":
        return vdb_pb2.IndexSpec(flat=vdb_pb2.FlatIndex())
    if kind == "ivf":
        return vdb_pb2.IndexSpec(ivf=vdb_pb2.IvfIndex(nlist=spec.get("nlist", 0), nprobe=spec.get("nprobe", 0)))
    if kind == "hnsw":
        return vdb_pb2.IndexSpec(hnsw=vdb_pb2.HnswIndex(
            m=spec.get("M", spec.get("m", 0)), ef_construction=spec.get("ef_construction", 0),
            ef_search=spec.get("ef_search", 0)))
    raise InvalidArgument(f"unknown index type {kind!r}; use 'flat', 'hnsw' or 'ivf'", field="index")


def _index_dict(spec: vdb_pb2.IndexSpec) -> dict[str, Any]:
    kind = spec.WhichOneof("kind") or "hnsw"
    if kind == "flat":
        return {"type": "flat"}
    if kind == "ivf":
        return {"type": "ivf", "nlist": spec.ivf.nlist, "nprobe": spec.ivf.nprobe}
    return {"type": "hnsw", "M": spec.hnsw.m, "ef_construction": spec.hnsw.ef_construction,
            "ef_search": spec.hnsw.ef_search}


def _collection_info(c: vdb_pb2.Collection) -> CollectionInfo:
    from google.protobuf import json_format

    return CollectionInfo(name=c.name, dimension=c.dimension, metric=_METRIC_NAMES.get(c.metric, "cosine"),
                          index=_index_dict(c.index), embedding_model=c.embedding_model,
                          durability=_DURABILITY_NAMES.get(c.durability, "sync"), count=c.count,
                          stats=json_format.MessageToDict(c.stats) if c.HasField("stats") else {})


def _create_request(name: str, dimension: int, metric: str, index: str | Mapping[str, Any], embedding_model: str,
                    durability: Durability) -> vdb_pb2.CreateCollectionRequest:
    if metric not in _METRICS:
        raise InvalidArgument(f"unknown metric {metric!r}; use 'l2', 'ip' or 'cosine'", field="metric")
    return vdb_pb2.CreateCollectionRequest(collection=vdb_pb2.Collection(
        name=name, dimension=dimension, metric=_METRICS[metric], index=_index_message(index),
        embedding_model=embedding_model, durability=_DURABILITY[durability]))


def _points(ids: Sequence[str], vectors: npt.ArrayLike | None, metadatas: Sequence[Mapping[str, Any] | None] | None,
            documents: Sequence[str | None] | None) -> vdb_pb2.Points:
    points = vdb_pb2.Points(ids=list(ids))
    if vectors is not None:
        try:
            points.vectors, rows = pack_vectors(vectors)
        except ValueError as exc:
            raise InvalidArgument(str(exc), field="vectors") from None
        if rows != len(ids):
            raise InvalidArgument(f"{rows} vectors for {len(ids)} ids; send one vector per id", field="vectors")
    if metadatas is not None:
        points.metadatas.extend(dict_to_metadata(m) for m in metadatas)
    if documents is not None:
        points.documents.extend(d or "" for d in documents)
    return points


def _upsert_request(collection: str, ids: Sequence[str], vectors: npt.ArrayLike | None,
                    metadatas: Sequence[Mapping[str, Any] | None] | None, documents: Sequence[str | None] | None,
                    durability: Durability) -> vdb_pb2.UpsertRequest:
    request = vdb_pb2.UpsertRequest(collection=collection, points=_points(ids, vectors, metadatas, documents),
                                    durability=_DURABILITY[durability])
    size = request.ByteSize()
    if size > MAX_MESSAGE:
        raise InvalidArgument(
            f"this upsert is {size} bytes, over the {MAX_MESSAGE}-byte message limit; send fewer points per "
            "call or use bulk_upsert(), which streams batches", field="points",
            metadata={"limit": str(MAX_MESSAGE)})
    return request


def _stream_requests(collection: str, batches: Iterable[Points | Mapping[str, Any]],
                     durability: Durability) -> Iterator[vdb_pb2.UpsertStreamRequest]:
    for batch in batches:
        b = batch if isinstance(batch, Points) else Points(**batch)
        yield vdb_pb2.UpsertStreamRequest(collection=collection, points=_points(b.ids, b.vectors, b.metadatas,
                                                                                 b.documents),
                                          durability=_DURABILITY[durability])


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


def _batches(ids: Sequence[str], vectors: npt.ArrayLike | None, metadatas: Sequence[Any] | None,
             documents: Sequence[Any] | None, batch_size: int | None) -> Iterator[Points]:
    array = None if vectors is None else np.ascontiguousarray(vectors, dtype=np.float32)
    if batch_size is None:
        row_bytes = array.shape[-1] * 4 if array is not None else 256
        batch_size = max(1, DEFAULT_STREAM_BATCH_BYTES // row_bytes)
    for start in range(0, len(ids), batch_size):
        end = start + batch_size
        yield Points(ids=list(ids[start:end]), vectors=None if array is None else array[start:end],
                     metadatas=None if metadatas is None else list(metadatas[start:end]),
                     documents=None if documents is None else list(documents[start:end]))


def _filters(target: Any, where: Filter, where_document: Filter = None) -> None:
    if where is not None:
        target.where.update(dict(where))
    if where_document is not None:
        target.where_document.update(dict(where_document))


def _include(include: Sequence[Include]) -> list[Any]:
    unknown = [f for f in include if f not in _FIELDS]
    if unknown:
        raise InvalidArgument(f"unknown include field(s) {unknown}; use {sorted(_FIELDS)}", field="include")
    return [_FIELDS[f] for f in include]


def _queries(queries: npt.ArrayLike | None) -> bytes:
    if queries is None:
        return b""
    try:
        return pack_vectors(queries)[0]
    except ValueError as exc:
        raise InvalidArgument(str(exc), field="queries") from None


def _search_request(collection: str, queries: npt.ArrayLike | None, query_texts: Sequence[str] | None, top_k: int,
                    where: Filter, where_document: Filter, include: Sequence[Include]) -> vdb_pb2.SearchRequest:
    request = vdb_pb2.SearchRequest(collection=collection, queries=_queries(queries), query_texts=query_texts or (),
                                    top_k=top_k, include=_include(include))
    _filters(request, where, where_document)
    return request


def _text_request(collection: str, query_texts: Sequence[str], top_k: int, where: Filter,
                  include: Sequence[Include]) -> vdb_pb2.SearchTextRequest:
    if isinstance(query_texts, str):
        query_texts = [query_texts]
    request = vdb_pb2.SearchTextRequest(collection=collection, query_texts=query_texts, top_k=top_k,
                                        include=_include(include))
    _filters(request, where)
    return request


def _hybrid_request(collection: str, queries: npt.ArrayLike | None, query_texts: Sequence[str], top_k: int,
                    fusion: str, alpha: float, where: Filter, include: Sequence[Include]) -> vdb_pb2.HybridSearchRequest:
    if fusion not in ("rrf", "weighted"):
        raise InvalidArgument(f"unknown fusion {fusion!r}; use 'rrf' or 'weighted'", field="fusion")
    if isinstance(query_texts, str):
        query_texts = [query_texts]
    request = vdb_pb2.HybridSearchRequest(
        collection=collection, queries=_queries(queries), query_texts=query_texts, top_k=top_k,
        fusion=vdb_pb2.FUSION_WEIGHTED if fusion == "weighted" else vdb_pb2.FUSION_RRF, alpha=alpha,
        include=_include(include))
    _filters(request, where)
    return request


def _delete_request(collection: str, ids: Sequence[str] | None, where: Filter, where_document: Filter,
                    durability: Durability) -> vdb_pb2.DeletePointsRequest:
    request = vdb_pb2.DeletePointsRequest(collection=collection, ids=list(ids or ()),
                                          durability=_DURABILITY[durability])
    _filters(request, where, where_document)
    return request


def _results(results: Iterable[vdb_pb2.QueryResult]) -> list[QueryResult]:
    out = []
    for r in results:
        n = len(r.ids)
        out.append(QueryResult(
            ids=list(r.ids), scores=list(r.scores),
            metadatas=[metadata_to_dict(m) for m in r.metadatas] if r.metadatas else None,
            documents=list(r.documents) if r.documents else None,
            vectors=unpack_vectors(r.vectors, n) if r.vectors else None))
    return out


def _points_out(p: vdb_pb2.Points) -> Points:
    return Points(ids=list(p.ids), vectors=unpack_vectors(p.vectors, len(p.ids)) if p.vectors else None,
                  metadatas=[metadata_to_dict(m) for m in p.metadatas] if p.metadatas else None,
                  documents=list(p.documents) if p.documents else None)


_DEFAULT_INCLUDE: tuple[Include, ...] = ("metadatas", "documents")


class VDBClient:
    """Blocking client of ``sage.vdb.v1.VDBService``."""

    def __init__(self, *, address: str | Sequence[str] | None = None, resolver: Resolver | None = None,
                 token: str | None = None, timeout: float | None = 60.0) -> None:
        self._ch = ServiceChannels("vdb", vdb_pb2_grpc.VDBServiceStub, address=address, resolver=resolver,
                                   token=token, timeout=timeout)

    # collections
    def create_collection(self, name: str, dimension: int, *, metric: str = "cosine",
                          index: str | Mapping[str, Any] = "hnsw", embedding_model: str = "",
                          durability: Durability = "sync") -> CollectionInfo:
        request = _create_request(name, dimension, metric, index, embedding_model, durability)
        return _collection_info(self._ch.call("CreateCollection", request, idempotent=False).collection)

    def get_collection(self, name: str) -> CollectionInfo:
        reply = self._ch.call("GetCollection", vdb_pb2.GetCollectionRequest(name=name), idempotent=True)
        return _collection_info(reply.collection)

    def list_collections(self, *, page_size: int = 100) -> list[CollectionInfo]:
        out: list[CollectionInfo] = []
        token = ""
        while True:
            reply = self._ch.call("ListCollections", vdb_pb2.ListCollectionsRequest(page_size=page_size,
                                                                                    page_token=token), idempotent=True)
            out.extend(_collection_info(c) for c in reply.collections)
            token = reply.next_page_token
            if not token:
                return out

    def delete_collection(self, name: str) -> None:
        self._ch.call("DeleteCollection", vdb_pb2.DeleteCollectionRequest(name=name), idempotent=False)

    # writes
    def upsert(self, collection: str, ids: Sequence[str], vectors: npt.ArrayLike | None = None, *,
               metadatas: Sequence[Mapping[str, Any] | None] | None = None,
               documents: Sequence[str | None] | None = None, durability: Durability = None) -> int:
        """Insert or replace points (vectors, or documents when the collection embeds)."""
        request = _upsert_request(collection, ids, vectors, metadatas, documents, durability)
        return int(self._ch.call("Upsert", request, idempotent=True).upserted_count)

    def upsert_stream(self, collection: str, batches: Iterable[Points | Mapping[str, Any]], *,
                      durability: Durability = None) -> int:
        """Stream batches of points in one call (bulk load); acknowledged once, at the end."""
        requests = _Recorded(_stream_requests(collection, batches, durability))
        try:
            reply = self._ch.stream("UpsertStream", iter(requests))
        except grpc.RpcError as exc:
            if requests.error is not None:
                raise requests.error from None
            raise self._ch.rpc_error(exc, "UpsertStream") from None
        return int(reply.upserted_count)

    def bulk_upsert(self, collection: str, ids: Sequence[str], vectors: npt.ArrayLike | None = None, *,
                    metadatas: Sequence[Mapping[str, Any] | None] | None = None,
                    documents: Sequence[str | None] | None = None, batch_size: int | None = None,
                    durability: Durability = None) -> int:
        """Upsert many points as a stream of batches (about 8 MiB each unless ``batch_size`` is given)."""
        return self.upsert_stream(collection, _batches(ids, vectors, metadatas, documents, batch_size),
                                  durability=durability)

    def delete(self, collection: str, ids: Sequence[str] | None = None, *, where: Filter = None,
               where_document: Filter = None, durability: Durability = None) -> int:
        request = _delete_request(collection, ids, where, where_document, durability)
        return int(self._ch.call("DeletePoints", request, idempotent=True).deleted_count)

    # reads
    def get(self, collection: str, ids: Sequence[str], *, include: Sequence[Include] = _DEFAULT_INCLUDE) -> Points:
        request = vdb_pb2.GetPointsRequest(collection=collection, ids=list(ids), include=_include(include))
        return _points_out(self._ch.call("GetPoints", request, idempotent=True).points)

    def search(self, collection: str, queries: npt.ArrayLike | None = None, *, query_texts: Sequence[str] | None = None,
               top_k: int = 10, where: Filter = None, where_document: Filter = None,
               include: Sequence[Include] = ()) -> list[QueryResult]:
        """One QueryResult per query; ``queries`` is (nq, dimension) or one vector."""
        request = _search_request(collection, queries, query_texts, top_k, where, where_document, include)
        return _results(self._ch.call("Search", request, idempotent=True).results)

    def search_text(self, collection: str, query_texts: Sequence[str], *, top_k: int = 10, where: Filter = None,
                    include: Sequence[Include] = ()) -> list[QueryResult]:
        request = _text_request(collection, query_texts, top_k, where, include)
        return _results(self._ch.call("SearchText", request, idempotent=True).results)

    def hybrid_search(self, collection: str, queries: npt.ArrayLike | None, query_texts: Sequence[str], *,
                      top_k: int = 10, fusion: str = "rrf", alpha: float = 0.5, where: Filter = None,
                      include: Sequence[Include] = ()) -> list[QueryResult]:
        request = _hybrid_request(collection, queries, query_texts, top_k, fusion, alpha, where, include)
        return _results(self._ch.call("HybridSearch", request, idempotent=True).results)

    # maintenance
    def flush(self, collection: str) -> None:
        self._ch.call("Flush", vdb_pb2.FlushRequest(collection=collection), idempotent=True)

    def compact(self, collection: str) -> None:
        self._ch.call("Compact", vdb_pb2.CompactRequest(collection=collection), idempotent=True)

    def close(self) -> None:
        self._ch.close()

    def __enter__(self) -> VDBClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncVDBClient:
    """asyncio client of ``sage.vdb.v1.VDBService``; same methods as VDBClient, awaited.
    Create it inside the event loop that uses it."""

    def __init__(self, *, address: str | Sequence[str] | None = None, resolver: Resolver | None = None,
                 token: str | None = None, timeout: float | None = 60.0) -> None:
        self._ch = AsyncServiceChannels("vdb", vdb_pb2_grpc.VDBServiceStub, address=address, resolver=resolver,
                                        token=token, timeout=timeout)

    async def create_collection(self, name: str, dimension: int, *, metric: str = "cosine",
                                index: str | Mapping[str, Any] = "hnsw", embedding_model: str = "",
                                durability: Durability = "sync") -> CollectionInfo:
        request = _create_request(name, dimension, metric, index, embedding_model, durability)
        return _collection_info((await self._ch.call("CreateCollection", request, idempotent=False)).collection)

    async def get_collection(self, name: str) -> CollectionInfo:
        reply = await self._ch.call("GetCollection", vdb_pb2.GetCollectionRequest(name=name), idempotent=True)
        return _collection_info(reply.collection)

    async def list_collections(self, *, page_size: int = 100) -> list[CollectionInfo]:
        out: list[CollectionInfo] = []
        token = ""
        while True:
            reply = await self._ch.call("ListCollections", vdb_pb2.ListCollectionsRequest(
                page_size=page_size, page_token=token), idempotent=True)
            out.extend(_collection_info(c) for c in reply.collections)
            token = reply.next_page_token
            if not token:
                return out

    async def delete_collection(self, name: str) -> None:
        await self._ch.call("DeleteCollection", vdb_pb2.DeleteCollectionRequest(name=name), idempotent=False)

    async def upsert(self, collection: str, ids: Sequence[str], vectors: npt.ArrayLike | None = None, *,
                     metadatas: Sequence[Mapping[str, Any] | None] | None = None,
                     documents: Sequence[str | None] | None = None, durability: Durability = None) -> int:
        request = _upsert_request(collection, ids, vectors, metadatas, documents, durability)
        return int((await self._ch.call("Upsert", request, idempotent=True)).upserted_count)

    async def upsert_stream(self, collection: str,
                            batches: Iterable[Points | Mapping[str, Any]] | AsyncIterable[Points | Mapping[str, Any]],
                            *, durability: Durability = None) -> int:
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

    async def bulk_upsert(self, collection: str, ids: Sequence[str], vectors: npt.ArrayLike | None = None, *,
                          metadatas: Sequence[Mapping[str, Any] | None] | None = None,
                          documents: Sequence[str | None] | None = None, batch_size: int | None = None,
                          durability: Durability = None) -> int:
        return await self.upsert_stream(collection, _batches(ids, vectors, metadatas, documents, batch_size),
                                        durability=durability)

    async def delete(self, collection: str, ids: Sequence[str] | None = None, *, where: Filter = None,
                     where_document: Filter = None, durability: Durability = None) -> int:
        request = _delete_request(collection, ids, where, where_document, durability)
        return int((await self._ch.call("DeletePoints", request, idempotent=True)).deleted_count)

    async def get(self, collection: str, ids: Sequence[str], *,
                  include: Sequence[Include] = _DEFAULT_INCLUDE) -> Points:
        request = vdb_pb2.GetPointsRequest(collection=collection, ids=list(ids), include=_include(include))
        return _points_out((await self._ch.call("GetPoints", request, idempotent=True)).points)

    async def search(self, collection: str, queries: npt.ArrayLike | None = None, *,
                     query_texts: Sequence[str] | None = None, top_k: int = 10, where: Filter = None,
                     where_document: Filter = None, include: Sequence[Include] = ()) -> list[QueryResult]:
        request = _search_request(collection, queries, query_texts, top_k, where, where_document, include)
        return _results((await self._ch.call("Search", request, idempotent=True)).results)

    async def search_text(self, collection: str, query_texts: Sequence[str], *, top_k: int = 10,
                          where: Filter = None, include: Sequence[Include] = ()) -> list[QueryResult]:
        request = _text_request(collection, query_texts, top_k, where, include)
        return _results((await self._ch.call("SearchText", request, idempotent=True)).results)

    async def hybrid_search(self, collection: str, queries: npt.ArrayLike | None, query_texts: Sequence[str], *,
                            top_k: int = 10, fusion: str = "rrf", alpha: float = 0.5, where: Filter = None,
                            include: Sequence[Include] = ()) -> list[QueryResult]:
        request = _hybrid_request(collection, queries, query_texts, top_k, fusion, alpha, where, include)
        return _results((await self._ch.call("HybridSearch", request, idempotent=True)).results)

    async def flush(self, collection: str) -> None:
        await self._ch.call("Flush", vdb_pb2.FlushRequest(collection=collection), idempotent=True)

    async def compact(self, collection: str) -> None:
        await self._ch.call("Compact", vdb_pb2.CompactRequest(collection=collection), idempotent=True)

    async def close(self) -> None:
        await self._ch.close()

    async def __aenter__(self) -> AsyncVDBClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
