"""The memory service end to end: store, get, list, search, delete over real KV, VDB and LLM."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import grpc
import pytest

from sage_client.channels import authorized_channel
from sage_client.errors import InvalidArgument, NotFound
from sage_client.memory import AsyncMemoryClient, MemoryClient
from sage_client.memory_seed import MeshMemoryService
from sage_client.services import resolve_seed_service
from sage_client.vdb import VDBClient
from tests.conftest import ServiceProcess
from tests.memory.conftest import DIM, unit_vectors


def session() -> str:
    return f"s-{uuid.uuid4().hex[:8]}"


def test_store_then_get_returns_content_and_metadata(memory: MemoryClient) -> None:
    sid = session()
    stored = memory.store_memory(
        sid,
        "Alice drinks green tea every morning",
        {"topic": "food", "year": 2024, "tags": ["tea", "habit"]},
    )
    got = memory.get_memory(stored["id"])
    assert got["content"] == "Alice drinks green tea every morning"
    assert got["session_id"] == sid
    assert got["metadata"] == {"topic": "food", "year": 2024, "tags": ["tea", "habit"]}
    assert got["create_time"] > 0


def test_search_by_text_ranks_the_semantically_closest_first(memory: MemoryClient) -> None:
    sid = session()
    for text in [
        "Alice drinks green tea every morning",
        "The train to Berlin leaves at nine",
        "Bob's favourite sport is basketball",
    ]:
        memory.store_memory(sid, text)
    hits = memory.search_memories("What does Alice like to drink?", session_id=sid, top_k=3)
    assert [h["content"] for h in hits][0] == "Alice drinks green tea every morning"
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


def test_same_idempotency_key_stores_once(memory: MemoryClient) -> None:
    sid = session()
    first = memory.store_memory(sid, "remember the milk", idempotency_key="req-1")
    again = memory.store_memory(sid, "remember the milk", idempotency_key="req-1")
    assert again["id"] == first["id"]
    assert again["create_time"] == first["create_time"]
    assert [m["id"] for m in memory.list_session_memories(sid)] == [first["id"]]


def test_a_retried_store_leaves_one_vector_the_first_attempts(
    memory: MemoryClient, vdb_service: ServiceProcess
) -> None:
    sid = session()
    v = unit_vectors(2, seed=7)
    first = memory.store_memory(sid, "the retried one", vector=v[0], idempotency_key="req-retry")
    memory.store_memory(sid, "the retried one", vector=v[0], idempotency_key="req-retry")
    with VDBClient(address=vdb_service.address) as vdb:
        [points] = vdb.search("sage_memories", v[0], top_k=10, where={"_sage_session": sid})
    # The losing attempt removed its own point and never touched the winner's.
    [point] = points.ids
    memory_id, _, created_us = point.rpartition("-")
    assert memory_id == first["id"]
    assert abs(int(created_us, 16) - round(first["create_time"] * 1e6)) <= 1
    hits = memory.search_memories(v[0], session_id=sid, top_k=5)
    assert [h["id"] for h in hits] == [first["id"]]


async def test_concurrent_stores_with_one_key_agree_on_one_memory(
    memory_service: ServiceProcess,
) -> None:
    sid = session()
    v = unit_vectors(1, seed=8)[0]
    async with AsyncMemoryClient(address=memory_service.address) as client:
        stored = await asyncio.gather(
            *(
                client.store_memory(sid, "said once", vector=v, idempotency_key="req-race")
                for _ in range(6)
            )
        )
        assert len({m["id"] for m in stored}) == 1
        assert len({m["create_time"] for m in stored}) == 1
        listed = [m async for m in client.list_session_memories(sid)]
        hits = await client.search_memories(v, session_id=sid, top_k=10)
    assert [m["id"] for m in listed] == [stored[0]["id"]]
    assert [h["id"] for h in hits] == [stored[0]["id"]]


def test_search_stays_inside_the_session_and_the_filter(memory: MemoryClient) -> None:
    a, b = session(), session()
    v = unit_vectors(3, seed=1)
    mine = memory.store_memory(a, "in a, work", {"kind": "work"}, vector=v[0])
    memory.store_memory(a, "in a, home", {"kind": "home"}, vector=v[1])
    memory.store_memory(b, "in b, work", {"kind": "work"}, vector=v[0])
    hits = memory.search_memories(v[0], session_id=a, top_k=10, where={"kind": "work"})
    assert [h["id"] for h in hits] == [mine["id"]]
    everywhere = memory.search_memories(v[0], top_k=10, where={"kind": "work"})
    assert {h["session_id"] for h in everywhere} >= {a, b}


def test_recency_weight_prefers_the_newer_of_equally_similar_memories(memory: MemoryClient) -> None:
    sid = session()
    v = unit_vectors(1, seed=2)[0]
    older = memory.store_memory(sid, "older", vector=v)
    time.sleep(0.005)  # creation times are milliseconds: two stores in one are equally recent
    newer = memory.store_memory(sid, "newer", vector=v)
    similarity_only = memory.search_memories(v, session_id=sid, top_k=2)
    assert {h["id"] for h in similarity_only} == {older["id"], newer["id"]}
    weighted = memory.search_memories(v, session_id=sid, top_k=2, recency_weight=1.0)
    assert weighted[0]["id"] == newer["id"]
    # Milliseconds apart against a one-day half-life: the scores differ below float32's resolution.
    assert weighted[0]["score"] >= weighted[1]["score"]


def test_list_pages_newest_first(memory: MemoryClient) -> None:
    sid = session()
    v = unit_vectors(7, seed=3)
    ids = [memory.store_memory(sid, f"memory {i}", vector=v[i])["id"] for i in range(7)]
    listed = [m["id"] for m in memory.list_session_memories(sid, page_size=3)]
    assert listed == ids[::-1]


def test_deleted_memory_is_gone_from_get_list_and_search(memory: MemoryClient) -> None:
    sid = session()
    v = unit_vectors(2, seed=4)
    gone = memory.store_memory(sid, "to forget", vector=v[0])
    kept = memory.store_memory(sid, "to keep", vector=v[1])
    memory.delete_memory(gone["id"])
    with pytest.raises(NotFound):
        memory.get_memory(gone["id"])
    assert [m["id"] for m in memory.list_session_memories(sid)] == [kept["id"]]
    assert [h["id"] for h in memory.search_memories(v[0], session_id=sid, top_k=5)] == [kept["id"]]


def test_delete_session_removes_every_memory_from_both_stores(memory: MemoryClient) -> None:
    sid, other = session(), session()
    v = unit_vectors(5, seed=5)
    for i in range(4):
        memory.store_memory(sid, f"m{i}", vector=v[i])
    survivor = memory.store_memory(other, "other session", vector=v[4])
    assert memory.delete_session(sid) == 4
    assert list(memory.list_session_memories(sid)) == []
    assert memory.search_memories(v[0], session_id=sid, top_k=5) == []
    assert memory.get_memory(survivor["id"])["content"] == "other session"


async def test_async_client_stores_and_searches(memory_service: ServiceProcess) -> None:
    sid = session()
    v = unit_vectors(1, seed=6)[0]
    async with AsyncMemoryClient(address=memory_service.address) as client:
        stored = await client.store_memory(sid, "async memory", vector=v)
        hits = await client.search_memories(v, session_id=sid, top_k=1)
        listed = [m["id"] async for m in client.list_session_memories(sid)]
    assert hits[0]["id"] == stored["id"]
    assert listed == [stored["id"]]


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field", "hint"),
    [
        (lambda m: m.store_memory("", "x"), "session_id", "1..256"),
        (lambda m: m.store_memory("s", "   "), "content", "must not be empty"),
        (lambda m: m.store_memory("s", "x", {"_sage_session": "t"}), "metadata", "reserved"),
        (
            lambda m: m.store_memory("s", "x", vector=[1.0, 2.0]),
            "vector",
            f"{DIM} little-endian float32",
        ),
        (lambda m: m.store_memory("s", "x", vector=[0.0] * DIM), "vector", "all zeros"),
        (lambda m: m.search_memories("q", top_k=101), "top_k", "1..100"),
        (lambda m: m.search_memories("q", recency_weight=1.5), "recency_weight", "0..1"),
        (lambda m: m.search_memories([0.5] * 3), "query_vector", f"{DIM} little-endian float32"),
        (lambda m: m.search_memories("", top_k=1), "query_text", "exactly one"),
        (lambda m: list(m.list_session_memories("s", page_size=5000)), "page_size", "1..1000"),
        (lambda m: m.get_memory(""), "id", "returned by StoreMemory"),
    ],
)
def test_bad_input_names_the_field_and_what_to_change(
    memory: MemoryClient, call, field: str, hint: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        call(memory)
    assert info.value.field == field
    assert hint in info.value.message


def test_foreign_page_token_is_invalid_argument(memory_service: ServiceProcess) -> None:
    from sage_proto.memory.v1 import memory_pb2, memory_pb2_grpc

    with authorized_channel(memory_service.address) as channel:
        stub = memory_pb2_grpc.MemoryServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.ListSessionMemories(
                memory_pb2.ListSessionMemoriesRequest(session_id="s", page_token="%%%")
            )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "next_page_token" in info.value.details()


def test_unknown_memory_is_not_found(memory: MemoryClient) -> None:
    with pytest.raises(NotFound, match="not found"):
        memory.get_memory("0" * 32)


def test_seed_name_goes_to_the_memory_service_when_a_mesh_is_configured(
    memory_service: ServiceProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGE_MEMORY_ADDR", memory_service.address)
    memory = resolve_seed_service("memory_service")
    assert isinstance(memory, MeshMemoryService)
    try:
        v = unit_vectors(1, seed=23)[0]
        stored = memory.process().store_memory("seed", "over the mesh", vector=v)
        assert memory.get_memory(stored["id"])["content"] == "over the mesh"
        assert memory.search_memories(v, session_id="seed", top_k=1)[0]["id"] == stored["id"]
    finally:
        memory.close()


def _sage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sage_cli.main", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_stores_and_searches(memory_service: ServiceProcess) -> None:
    sid = session()
    stored = _sage(
        "memory",
        "--address",
        memory_service.address,
        "store",
        sid,
        "Carol collects old maps",
        "--metadata",
        '{"topic": "hobby"}',
    )
    assert stored.returncode == 0, stored.stderr
    memory_id = stored.stdout.strip()
    found = _sage(
        "memory",
        "--address",
        memory_service.address,
        "search",
        "Who likes maps?",
        "--session",
        sid,
        "-k",
        "1",
    )
    assert found.returncode == 0, found.stderr
    assert memory_id in found.stdout and "Carol collects old maps" in found.stdout
    bad = _sage("memory", "--address", memory_service.address, "search", "q", "--where", "[1]")
    assert bad.returncode != 0 and "must be a JSON object" in bad.stderr
