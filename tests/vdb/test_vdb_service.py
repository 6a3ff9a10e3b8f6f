"""The VDB service end to end: a real `python -m sage_vdb` process, compared with the native
core used in-process on the same data."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sage_client import AlreadyExists, InvalidArgument, NotFound
from sage_client.vdb import AsyncVDBClient, VDBClient
from sage_native import Collection
from tests.conftest import ServiceProcess, spawn_service
from tests.vdb.conftest import MAX_BATCH_POINTS, random_vectors

DIM = 16
N = 400
DOCS = [
    f"document {i} about {'faiss vectors' if i % 3 == 0 else 'streaming dataflow'}"
    for i in range(N)
]
METAS = [
    {
        "year": 2000 + i % 25,
        "lang": "zh" if i % 2 else "en",
        "tags": ["a", "b"] if i % 5 == 0 else ["c"],
    }
    for i in range(N)
]
IDS = [f"p{i}" for i in range(N)]


def _load(vdb: VDBClient, name: str, index: str = "flat", metric: str = "cosine") -> np.ndarray:
    vectors = random_vectors(N, DIM)
    vdb.create_collection(name, DIM, metric=metric, index=index)
    assert vdb.upsert(name, IDS, vectors, metadatas=METAS, documents=DOCS) == N
    return vectors


def _local(
    tmp_path: Path, vectors: np.ndarray, index: str = "flat", metric: str = "cosine"
) -> Collection:
    col = Collection.create(str(tmp_path / "local"), DIM, metric, index, "none")
    col.upsert(IDS, vectors, METAS, DOCS)
    return col


def test_collection_lifecycle(vdb: VDBClient, name: str) -> None:
    info = vdb.create_collection(
        name, DIM, metric="l2", index={"type": "hnsw", "M": 8, "ef_search": 32}
    )
    assert (info.name, info.dimension, info.metric, info.count) == (name, DIM, "l2", 0)
    assert info.index == {"type": "hnsw", "M": 8, "ef_construction": 200, "ef_search": 32}
    with pytest.raises(AlreadyExists):
        vdb.create_collection(name, DIM)
    vdb.upsert(name, ["a", "b"], random_vectors(2, DIM))
    got = vdb.get_collection(name)
    assert got.count == 2 and got.stats["count"] == 2
    assert name in [c.name for c in vdb.list_collections(page_size=1)]
    vdb.delete_collection(name)
    with pytest.raises(NotFound):
        vdb.get_collection(name)
    assert name not in [c.name for c in vdb.list_collections()]


def test_search_over_grpc_equals_in_process(vdb: VDBClient, name: str, tmp_path: Path) -> None:
    vectors = _load(vdb, name)
    local = _local(tmp_path, vectors)
    queries = random_vectors(8, DIM, seed=1)
    where = {"$and": [{"year": {"$gte": 2010}}, {"lang": "zh"}]}
    remote = vdb.search(name, queries, top_k=7, where=where, include=["metadatas", "documents"])
    expected = local.search(queries, 7, where=where, include=["metadatas", "documents"])
    assert len(remote) == 8
    for q, result in enumerate(remote):
        assert result.ids == expected["ids"][q]
        np.testing.assert_allclose(
            result.scores, expected["scores"][q, : len(result.ids)], rtol=1e-6
        )
        assert result.metadatas == expected["metadatas"][q]
        assert result.documents == expected["documents"][q]


def test_hnsw_search_matches_in_process_build(vdb: VDBClient, name: str, tmp_path: Path) -> None:
    vectors = _load(vdb, name, index="hnsw", metric="l2")
    local = _local(tmp_path, vectors, index="hnsw", metric="l2")
    queries = random_vectors(4, DIM, seed=2)
    remote = vdb.search(name, queries, top_k=5)
    expected = local.search(queries, 5)
    assert [r.ids for r in remote] == expected["ids"]


def test_text_and_hybrid_search_equal_in_process(vdb: VDBClient, name: str, tmp_path: Path) -> None:
    vectors = _load(vdb, name)
    local = _local(tmp_path, vectors)
    texts = ["faiss vectors", "streaming"]
    remote = vdb.search_text(name, texts, top_k=5, where={"lang": "en"})
    expected = local.search_text(texts, 5, where={"lang": "en"})
    assert [r.ids for r in remote] == expected["ids"]
    queries = random_vectors(2, DIM, seed=3)
    remote = vdb.hybrid_search(name, queries, texts, top_k=6, fusion="weighted", alpha=0.7)
    expected = local.hybrid_search(queries, texts, 6, "weighted", 0.7)
    assert [r.ids for r in remote] == expected["ids"]


def test_get_returns_points_in_request_order_with_vectors(vdb: VDBClient, name: str) -> None:
    vectors = _load(vdb, name, metric="l2")
    got = vdb.get(name, ["p3", "missing", "p1"], include=["vectors", "metadatas", "documents"])
    assert got.ids == ["p3", "p1"]
    assert got.vectors is not None
    np.testing.assert_array_equal(got.vectors, vectors[[3, 1]])
    assert got.metadatas == [METAS[3], METAS[1]] and got.documents == [DOCS[3], DOCS[1]]


def test_search_can_return_hit_vectors(vdb: VDBClient, name: str) -> None:
    vectors = _load(vdb, name, metric="l2")
    result = vdb.search(name, vectors[10], top_k=1, include=["vectors"])[0]
    assert result.ids == ["p10"]
    assert result.vectors is not None
    np.testing.assert_array_equal(result.vectors[0], vectors[10])


def test_delete_by_ids_and_by_filter(vdb: VDBClient, name: str) -> None:
    _load(vdb, name)
    assert vdb.delete(name, ["p0", "p1", "nope"]) == 2
    in_2024 = sum(1 for i, m in enumerate(METAS) if m["year"] == 2024 and i > 1)
    assert vdb.delete(name, where={"year": 2024}) == in_2024
    assert vdb.get_collection(name).count == N - 2 - in_2024
    assert vdb.get(name, ["p0", "p24"]).ids == []


def test_bulk_upsert_streams_batches(vdb: VDBClient, name: str) -> None:
    vdb.create_collection(name, DIM, index="flat")
    ids = [f"b{i}" for i in range(3000)]
    vectors = random_vectors(3000, DIM)
    assert vdb.bulk_upsert(name, ids, vectors, batch_size=700) == 3000
    assert vdb.get_collection(name).count == 3000
    assert vdb.search(name, vectors[2999], top_k=1)[0].ids == ["b2999"]


def test_flush_and_compact_keep_the_data(vdb: VDBClient, name: str) -> None:
    vectors = _load(vdb, name, metric="l2")
    vdb.delete(name, [f"p{i}" for i in range(100)])
    vdb.flush(name)
    vdb.compact(name)
    info = vdb.get_collection(name)
    assert info.count == N - 100 and info.stats["deleted_slots"] == 0
    assert vdb.search(name, vectors[200], top_k=1)[0].ids == ["p200"]


# -- bad input --------------------------------------------------------------------------------
def test_dimension_mismatch_is_invalid_argument_naming_the_dimension(
    vdb: VDBClient, name: str
) -> None:
    vdb.create_collection(name, DIM)
    with pytest.raises(InvalidArgument) as info:
        vdb.upsert(name, ["a"], random_vectors(1, DIM + 1))
    assert info.value.field == "points.vectors"
    assert f"dimension {DIM}" in info.value.message
    with pytest.raises(InvalidArgument) as info:
        vdb.search(name, random_vectors(1, DIM - 3))
    assert info.value.field == "queries" and f"dimension is {DIM}" in info.value.message
    assert vdb.get_collection(name).count == 0


def test_unknown_collection_is_not_found_and_says_how_to_fix(vdb: VDBClient) -> None:
    with pytest.raises(NotFound) as info:
        vdb.search("no-such-collection", random_vectors(1, DIM))
    assert "'no-such-collection' does not exist" in info.value.message
    assert "CreateCollection" in info.value.message


def test_malformed_filter_is_invalid_argument_naming_the_operator(
    vdb: VDBClient, name: str
) -> None:
    _load(vdb, name)
    with pytest.raises(InvalidArgument) as info:
        vdb.search(name, random_vectors(1, DIM), where={"year": {"$like": 3}})
    assert "$like" in info.value.message
    with pytest.raises(InvalidArgument):
        vdb.delete(name, where={"$or": "not a list"})
    assert vdb.get_collection(name).count == N


def test_batch_over_the_point_limit_says_to_split(vdb: VDBClient, name: str) -> None:
    vdb.create_collection(name, 2, index="flat")
    n = MAX_BATCH_POINTS + 1
    with pytest.raises(InvalidArgument) as info:
        vdb.upsert(name, [str(i) for i in range(n)], random_vectors(n, 2))
    assert info.value.reason == "ERROR_REASON_LIMIT_EXCEEDED"
    assert "max_batch_points" in info.value.message and "UpsertStream" in info.value.message
    assert vdb.get_collection(name).count == 0


def test_batch_over_the_message_limit_says_to_stream(vdb: VDBClient, name: str) -> None:
    vdb.create_collection(name, 4096, index="flat")
    with pytest.raises(InvalidArgument) as info:
        vdb.upsert(name, [str(i) for i in range(4200)], np.ones((4200, 4096), dtype=np.float32))
    assert "message limit" in info.value.message and "bulk_upsert" in info.value.message


def test_bad_top_k_and_empty_query(vdb: VDBClient, name: str) -> None:
    _load(vdb, name)
    with pytest.raises(InvalidArgument) as info:
        vdb.search(name, random_vectors(1, DIM), top_k=0)
    assert info.value.field == "top_k"
    with pytest.raises(InvalidArgument) as info:
        vdb.search(name, query_texts=["x"])
    assert "no embedding model" in info.value.message


# -- restart and async ------------------------------------------------------------------------
def test_every_collection_is_served_again_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = spawn_service(tmp_path, "vdb-a", "sage_vdb", data_dir=data)
    vectors = random_vectors(50, DIM)
    with VDBClient(address=first.address) as vdb:
        for coll in ("one", "two"):
            vdb.create_collection(
                coll, DIM, metric="l2", embedding_model="" if coll == "one" else "m"
            )
            vdb.upsert(coll, [f"x{i}" for i in range(50)], vectors, durability="async")
    first.proc.stop(grace=5)
    second = spawn_service(tmp_path, "vdb-b", "sage_vdb", data_dir=data)
    try:
        with VDBClient(address=second.address) as vdb:
            assert [(c.name, c.count) for c in vdb.list_collections()] == [("one", 50), ("two", 50)]
            assert vdb.get_collection("two").embedding_model == "m"
            assert vdb.search("one", vectors[7], top_k=1)[0].ids == ["x7"]
    finally:
        second.proc.stop(grace=5)


async def test_async_client_round_trip(vdb_service: ServiceProcess, name: str) -> None:
    async with AsyncVDBClient(address=vdb_service.address) as vdb:
        await vdb.create_collection(name, DIM, metric="l2", index="flat")
        vectors = random_vectors(100, DIM)
        assert (
            await vdb.bulk_upsert(name, [f"a{i}" for i in range(100)], vectors, batch_size=30)
            == 100
        )
        results = await vdb.search(name, vectors[[5, 6]], top_k=1)
        assert [r.ids for r in results] == [["a5"], ["a6"]]
        assert (await vdb.get(name, ["a9"])).ids == ["a9"]
        with pytest.raises(NotFound):
            await vdb.get_collection("missing-async")


async def test_searches_and_small_writes_during_a_long_write_never_stall_the_server(
    vdb_service: ServiceProcess, name: str
) -> None:
    # Searches run on native threads and small writes are tried on the event loop; neither may
    # wait there for a write being applied, or every call to the server (health checks too) would
    # queue behind it.
    dim = 96
    async with (
        AsyncVDBClient(address=vdb_service.address) as vdb,
        grpc.aio.insecure_channel(vdb_service.address) as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        await vdb.create_collection(
            name, dim, index={"type": "hnsw", "M": 32, "ef_construction": 400}, durability="async"
        )
        await vdb.upsert(name, [f"a{i}" for i in range(1200)], random_vectors(1200, dim, seed=1))
        query = random_vectors(1, dim, seed=2)
        started = time.perf_counter()
        write = asyncio.ensure_future(
            vdb.upsert(
                name,
                [f"b{i}" for i in range(MAX_BATCH_POINTS)],
                random_vectors(MAX_BATCH_POINTS, dim, seed=3),
            )
        )
        searches, small_writes, stalls = [], [], []
        while not write.done():
            searches.append(asyncio.ensure_future(vdb.search(name, query, top_k=3)))
            # A small write that needs no fsync is tried on the event loop: it must not wait there.
            small_writes.append(
                asyncio.ensure_future(
                    vdb.upsert(name, [f"s{len(small_writes)}"], query, durability="async")
                )
            )
            t0 = time.perf_counter()
            await health.Check(health_pb2.HealthCheckRequest(), timeout=30)
            stalls.append(time.perf_counter() - t0)
            await asyncio.sleep(0.01)
        await write
        applied_s = time.perf_counter() - started
        found = await asyncio.gather(*searches)
        assert await asyncio.gather(*small_writes) == [1] * len(small_writes)
        assert (await vdb.get_collection(name)).count == 1200 + MAX_BATCH_POINTS + len(small_writes)
    assert applied_s > 0.3, "the write was too short to show anything; make it longer"
    assert max(stalls) < applied_s / 3, (max(stalls), applied_s)
    assert len(searches) >= 5
    assert all(len(r[0].ids) == 3 for r in found)
