"""Bounded inputs (issue #18): index-parameter bombs, names with a trailing newline, garbage page
tokens, too-deep filters, unknown enum values and oversized KV Scan pages are refused with
INVALID_ARGUMENT naming the field, and change nothing; KV Scan pages are bounded by bytes.

Each probe runs against real VDB, KV and Memory service processes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import struct_pb2

from sage_client.channels import authorized_channel
from sage_client.errors import SageError, from_rpc_error
from sage_native import Collection
from sage_proto.kv.v1 import kv_pb2, kv_pb2_grpc
from sage_proto.memory.v1 import memory_pb2, memory_pb2_grpc
from sage_proto.vdb.v1 import vdb_pb2, vdb_pb2_grpc
from tests.conftest import ServiceProcess, spawn_service

DIM = 8
UNKNOWN: Any = 99  # a number that no enum of the VDB API defines (proto3 enums are open)


@pytest.fixture(scope="module")
def vdb_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = spawn_service(tmp_path_factory.mktemp("vdb"), "vdb", "sage_vdb")
    yield service
    service.proc.stop(grace=5)


@pytest.fixture(scope="module")
def vdb(vdb_service: ServiceProcess) -> Iterator[vdb_pb2_grpc.VDBServiceStub]:
    with authorized_channel(vdb_service.address) as channel:
        yield vdb_pb2_grpc.VDBServiceStub(channel)


@pytest.fixture(scope="module")
def kv_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    # A 4 MiB message limit: a Scan page must stay under it (pages are cut at a quarter of it).
    service = spawn_service(
        tmp_path_factory.mktemp("kv"),
        "kv",
        "sage_kv",
        backend="memory",
        max_message_bytes=4 * 1024 * 1024,
    )
    yield service
    service.proc.stop(grace=5)


@pytest.fixture(scope="module")
def kv(kv_service: ServiceProcess) -> Iterator[kv_pb2_grpc.KVServiceStub]:
    with authorized_channel(kv_service.address) as channel:
        yield kv_pb2_grpc.KVServiceStub(channel)


def refused(call: Callable[[], Any]) -> SageError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    return from_rpc_error(info.value)


def collection_names(vdb: vdb_pb2_grpc.VDBServiceStub) -> list[str]:
    return [
        c.name
        for c in vdb.ListCollections(vdb_pb2.ListCollectionsRequest(page_size=1000)).collections
    ]


def create(
    vdb: vdb_pb2_grpc.VDBServiceStub, name: str, **fields: Any
) -> vdb_pb2.CreateCollectionResponse:
    fields.setdefault("dimension", DIM)
    return vdb.CreateCollection(
        vdb_pb2.CreateCollectionRequest(collection=vdb_pb2.Collection(name=name, **fields))
    )


# -- VDB: index parameter bombs -------------------------------------------------------------
@pytest.mark.parametrize(
    ("index", "dimension", "field"),
    [
        (vdb_pb2.IndexSpec(hnsw=vdb_pb2.HnswIndex(m=100_000)), DIM, "collection.index.hnsw.m"),
        (vdb_pb2.IndexSpec(hnsw=vdb_pb2.HnswIndex(m=-1)), DIM, "collection.index.hnsw.m"),
        (
            vdb_pb2.IndexSpec(hnsw=vdb_pb2.HnswIndex(ef_construction=1_000_000)),
            DIM,
            "collection.index.hnsw.ef_construction",
        ),
        (
            vdb_pb2.IndexSpec(hnsw=vdb_pb2.HnswIndex(ef_search=1_000_000)),
            DIM,
            "collection.index.hnsw.ef_search",
        ),
        # 10^6 cells rather than the reported 10^9, so that the unfixed service does not OOM the host.
        (
            vdb_pb2.IndexSpec(ivf=vdb_pb2.IvfIndex(nlist=1_000_000)),
            DIM,
            "collection.index.ivf.nlist",
        ),
        (vdb_pb2.IndexSpec(ivf=vdb_pb2.IvfIndex(nlist=65536)), 4096, "collection.index.ivf.nlist"),
        (
            vdb_pb2.IndexSpec(ivf=vdb_pb2.IvfIndex(nlist=64, nprobe=65)),
            DIM,
            "collection.index.ivf.nprobe",
        ),
    ],
)
def test_index_parameter_bombs_are_refused_and_create_nothing(
    vdb: vdb_pb2_grpc.VDBServiceStub, index: Any, dimension: int, field: str
) -> None:
    name = f"bomb-{field.rsplit('.', 1)[-1]}-{dimension}-{abs(hash(str(index))) % 10**6}"
    error = refused(lambda: create(vdb, name, dimension=dimension, index=index))
    assert error.field == field
    assert name not in collection_names(vdb)


def test_documented_index_bounds_are_accepted(vdb: vdb_pb2_grpc.VDBServiceStub) -> None:
    created = create(
        vdb,
        "bounds-ok",
        index=vdb_pb2.IndexSpec(
            hnsw=vdb_pb2.HnswIndex(m=128, ef_construction=2048, ef_search=4096)
        ),
    )
    assert created.collection.index.hnsw.m == 128
    ivf = create(vdb, "bounds-ivf", index=vdb_pb2.IndexSpec(ivf=vdb_pb2.IvfIndex(nlist=4)))
    assert ivf.collection.index.ivf.nprobe == 4  # the default nprobe never exceeds nlist


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ({"type": "hnsw", "M": 100_000}, "M must be 4..128"),
        ({"type": "hnsw", "M": 2**32 + 16}, "M is out of range"),  # must not wrap around to 16
        ({"type": "hnsw", "ef_construction": 10**6}, "ef_construction must be 8..2048"),
        ({"type": "hnsw", "ef_search": 10**6}, "ef_search must be 1..4096"),
        ({"type": "ivf", "nlist": 1_000_000}, "nlist must be 1..65536"),
        ({"type": "ivf", "nprobe": 10**6}, "nprobe must be 1..65536"),
    ],
)
def test_native_core_refuses_the_same_bombs(
    tmp_path: Path, index: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Collection.create(str(tmp_path / "c"), DIM, metric="l2", index=index, fsync="none")
    assert not (tmp_path / "c").exists()


def test_native_core_bounds_nlist_times_dimension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nlist \\* dim"):
        Collection.create(
            str(tmp_path / "c"),
            4096,
            metric="l2",
            index={"type": "ivf", "nlist": 65536},
            fsync="none",
        )
    with pytest.raises(ValueError, match="dim must be 1..65536"):
        Collection.create(str(tmp_path / "d"), 65537, metric="l2", index="flat", fsync="none")


# -- VDB: names, page tokens, enums, filters ------------------------------------------------
def test_collection_name_with_a_trailing_newline_is_refused(
    vdb: vdb_pb2_grpc.VDBServiceStub,
) -> None:
    error = refused(lambda: create(vdb, "trailing\n"))
    assert error.field == "collection.name"
    assert not [n for n in collection_names(vdb) if n.startswith("trailing")]


@pytest.mark.parametrize(
    "token", ["!!!!", "YQ==!"]
)  # both used to decode leniently and restart paging
def test_garbage_list_collections_token_is_refused(
    vdb: vdb_pb2_grpc.VDBServiceStub, token: str
) -> None:
    create(vdb, f"paged-{abs(hash(token)) % 10**6}")
    error = refused(
        lambda: vdb.ListCollections(vdb_pb2.ListCollectionsRequest(page_size=1, page_token=token))
    )
    assert error.field == "page_token"


def test_unknown_durability_on_create_is_refused(vdb: vdb_pb2_grpc.VDBServiceStub) -> None:
    error = refused(lambda: create(vdb, "durability-99", durability=UNKNOWN))
    assert error.field == "collection.durability"
    assert "durability-99" not in collection_names(vdb)


@pytest.fixture(scope="module")
def points(vdb: vdb_pb2_grpc.VDBServiceStub) -> str:
    create(vdb, "points", metric=vdb_pb2.METRIC_L2)
    vectors = np.random.default_rng(0).standard_normal((4, DIM)).astype("<f4")
    vdb.Upsert(
        vdb_pb2.UpsertRequest(
            collection="points",
            points=vdb_pb2.Points(
                ids=["a", "b", "c", "d"],
                vectors=vectors.tobytes(),
                documents=["one", "two", "three", "four"],
            ),
        )
    )
    return "points"


def count(vdb: vdb_pb2_grpc.VDBServiceStub, name: str) -> int:
    return vdb.GetCollection(vdb_pb2.GetCollectionRequest(name=name)).collection.count


def test_unknown_durability_on_upsert_writes_nothing(
    vdb: vdb_pb2_grpc.VDBServiceStub, points: str
) -> None:
    vector = np.ones((1, DIM), dtype="<f4").tobytes()
    error = refused(
        lambda: vdb.Upsert(
            vdb_pb2.UpsertRequest(
                collection=points,
                points=vdb_pb2.Points(ids=["new"], vectors=vector),
                durability=UNKNOWN,
            )
        )
    )
    assert error.field == "durability"
    assert count(vdb, points) == 4


def test_unknown_include_field_is_refused(vdb: vdb_pb2_grpc.VDBServiceStub, points: str) -> None:
    error = refused(
        lambda: vdb.GetPoints(
            vdb_pb2.GetPointsRequest(
                collection=points, ids=["a"], include=[vdb_pb2.FIELD_METADATA, UNKNOWN]
            )
        )
    )
    assert error.field == "include[1]"


def test_unknown_fusion_is_refused(vdb: vdb_pb2_grpc.VDBServiceStub, points: str) -> None:
    query = np.ones((1, DIM), dtype="<f4").tobytes()
    error = refused(
        lambda: vdb.HybridSearch(
            vdb_pb2.HybridSearchRequest(
                collection=points, queries=query, query_texts=["one"], top_k=2, fusion=UNKNOWN
            )
        )
    )
    assert error.field == "fusion"


def deep_filter(levels: int) -> struct_pb2.Struct:
    """{"$and": [{"$and": [... {"$contains": "one"} ...]}]}: a valid filter, 2 x levels deep."""
    node: dict[str, Any] = {"$contains": "one"}
    for _ in range(levels):
        node = {"$and": [node]}
    out = struct_pb2.Struct()
    out.update(node)
    return out


def test_too_deep_filter_is_invalid_argument_naming_the_field(
    vdb: vdb_pb2_grpc.VDBServiceStub, points: str
) -> None:
    query = np.ones((1, DIM), dtype="<f4").tobytes()
    deep = deep_filter(
        17
    )  # 34 levels: over the 32 allowed, under protobuf's own parse depth (100 messages)
    error = refused(
        lambda: vdb.Search(
            vdb_pb2.SearchRequest(collection=points, queries=query, top_k=2, where_document=deep)
        )
    )
    assert error.field == "where_document"
    assert "32" in error.message
    error = refused(
        lambda: vdb.DeletePoints(
            vdb_pb2.DeletePointsRequest(collection=points, where_document=deep)
        )
    )
    assert error.field == "where_document"
    assert count(vdb, points) == 4
    # A filter inside the limit still works.
    hits = vdb.Search(
        vdb_pb2.SearchRequest(
            collection=points, queries=query, top_k=4, where_document=deep_filter(8)
        )
    )
    assert list(hits.results[0].ids) == ["a"]


def test_native_core_refuses_too_deep_filters_and_metadata(tmp_path: Path) -> None:
    col = Collection.create(str(tmp_path / "c"), DIM, metric="l2", index="flat", fsync="none")
    try:
        node: dict[str, Any] = {"$contains": "one"}
        for _ in range(17):
            node = {"$and": [node]}
        query = np.ones((1, DIM), dtype=np.float32)
        with pytest.raises(ValueError, match="where_document.*nested more than 32 levels"):
            col.search(query, 1, where_document=node)
        nested: dict[str, Any] = {"x": 1}
        for _ in range(40):
            nested = {"x": nested}
        with pytest.raises(ValueError, match="nested more than 32 levels"):
            col.upsert(["a"], query, metadatas=[nested])
        assert col.count() == 0
    finally:
        col.close()


# -- KV: page tokens and page bytes ---------------------------------------------------------
@pytest.mark.parametrize("token", ["!!!!", "%%%"])  # both used to decode to "" and restart paging
def test_garbage_scan_token_is_refused(kv: kv_pb2_grpc.KVServiceStub, token: str) -> None:
    kv.Put(kv_pb2.PutRequest(namespace="tokens", key="k1", value=b"v"))
    error = refused(
        lambda: kv.Scan(kv_pb2.ScanRequest(namespace="tokens", page_size=1, page_token=token))
    )
    assert error.field == "page_token"


def test_scan_token_from_another_prefix_is_refused(kv: kv_pb2_grpc.KVServiceStub) -> None:
    for key in ("a/1", "a/2", "b/1", "b/2"):
        kv.Put(kv_pb2.PutRequest(namespace="prefixes", key=key, value=b"v"))
    page = kv.Scan(kv_pb2.ScanRequest(namespace="prefixes", prefix="a/", page_size=1))
    assert page.next_page_token
    error = refused(
        lambda: kv.Scan(
            kv_pb2.ScanRequest(
                namespace="prefixes", prefix="b/", page_size=1, page_token=page.next_page_token
            )
        )
    )
    assert error.field == "page_token"
    rest = kv.Scan(
        kv_pb2.ScanRequest(namespace="prefixes", prefix="a/", page_token=page.next_page_token)
    )
    assert [e.key for e in rest.entries] == ["a/2"]


def test_scan_pages_are_bounded_by_bytes(kv: kv_pb2_grpc.KVServiceStub) -> None:
    value = b"x" * (512 * 1024)
    keys = [
        f"big/{i:02d}" for i in range(12)
    ]  # 6 MiB in all: over the service's 4 MiB message limit
    for key in keys:
        kv.Put(kv_pb2.PutRequest(namespace="bytes", key=key, value=value))
    seen: list[str] = []
    token, pages = "", 0
    while True:
        page = kv.Scan(
            kv_pb2.ScanRequest(
                namespace="bytes", page_size=1000, include_values=True, page_token=token
            )
        )
        pages += 1
        assert (
            page.ByteSize() <= 1024 * 1024 + len(value) + 4096
        )  # a quarter of the message limit, plus one entry
        assert all(e.value == value for e in page.entries)
        seen += [e.key for e in page.entries]
        token = page.next_page_token
        if not token:
            break
    assert seen == keys
    assert pages > 1


# -- Memory: page tokens --------------------------------------------------------------------
@pytest.fixture(scope="module")
def memory_service(
    tmp_path_factory: pytest.TempPathFactory,
    kv_service: ServiceProcess,
    vdb_service: ServiceProcess,
) -> Iterator[ServiceProcess]:
    run_dir = tmp_path_factory.mktemp("memory")
    llm = spawn_service(run_dir, "llm", "sage_llm", backend="mock")
    try:
        service = spawn_service(
            run_dir,
            "memory",
            "sage_memory",
            kv_address=kv_service.address,
            vdb_address=vdb_service.address,
            llm_address=llm.address,
        )
        yield service
        service.proc.stop(grace=5)
    finally:
        llm.proc.stop(grace=5)


def wrapped(session: str, kv_token: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"s": session, "k": kv_token}).encode()).decode()


@pytest.mark.parametrize("inner", ["", "!!!!", base64.urlsafe_b64encode(b"s/other/1").decode()])
def test_memory_page_token_with_a_bad_inner_token_is_refused(
    memory_service: ServiceProcess, inner: str
) -> None:
    with authorized_channel(memory_service.address) as channel:
        stub = memory_pb2_grpc.MemoryServiceStub(channel)
        error = refused(
            lambda: stub.ListSessionMemories(
                memory_pb2.ListSessionMemoriesRequest(
                    session_id="bounds", page_token=wrapped("bounds", inner)
                )
            )
        )
    assert error.field == "page_token"
