"""LocalMemory: the memory service's behaviour in one process, for pipelines with no servers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from sage_client import LocalEnvironment, MapFunction, SinkFunction
from sage_client.errors import InvalidArgument, NotFound
from sage_client.memory_local import LocalMemory
from sage_client.memory_seed import LocalMemoryService
from sage_client.services import resolve_seed_service
from tests.memory.conftest import unit_vectors

pytest.importorskip("sage_native")


@pytest.fixture
def local() -> Iterator[LocalMemory]:
    memory = LocalMemory()
    yield memory
    memory.close()


def test_store_search_get_delete(local: LocalMemory) -> None:
    v = unit_vectors(3, seed=21)
    a = local.store_memory("s", "first", {"kind": "x"}, vector=v[0])
    b = local.store_memory("s", "second", {"kind": "y"}, vector=v[1])
    local.store_memory("t", "other session", {"kind": "x"}, vector=v[0])
    assert [h["id"] for h in local.search_memories(v[0], session_id="s", top_k=1)] == [a["id"]]
    assert [h["id"] for h in local.search_memories(v[0], session_id="s", where={"kind": "y"})] == [
        b["id"]
    ]
    assert local.get_memory(a["id"])["metadata"] == {"kind": "x"}
    assert [m["id"] for m in local.list_session_memories("s")] == [b["id"], a["id"]]
    local.delete_memory(a["id"])
    with pytest.raises(NotFound):
        local.get_memory(a["id"])
    assert local.delete_session("s") == 1
    assert local.search_memories(v[1], session_id="s") == []


def test_same_idempotency_key_stores_once(local: LocalMemory) -> None:
    v = unit_vectors(1, seed=22)[0]
    first = local.store_memory("s", "once", vector=v, idempotency_key="k")
    assert local.store_memory("s", "once", vector=v, idempotency_key="k")["id"] == first["id"]
    assert len(list(local.list_session_memories("s"))) == 1


def test_bad_vector_names_the_field(local: LocalMemory) -> None:
    with pytest.raises(InvalidArgument) as info:
        local.store_memory("s", "x", vector=[1.0, 2.0])
    assert info.value.field == "vector"


class Remember(MapFunction):
    def execute(self, data: str) -> str:
        return self.call_service("memory_service").store_memory("chat", data)["id"]


class Recall(SinkFunction):
    def __init__(self, out: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out = out
        self.lock = threading.Lock()

    def execute(self, data: str) -> None:
        hits = self.call_service["memory_service"].search_memories(
            "Which drink does Alice like?", session_id="chat", top_k=1
        )
        with self.lock:
            self.out.append(hits[0]["content"])


@pytest.mark.slow  # loads torch and the embedding model in the test process
def test_seed_name_runs_a_pipeline_in_process_with_the_local_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("sage_llm")
    for var in ("SAGE_ETCD_ENDPOINTS", "SAGE_MEMORY_ADDR"):
        monkeypatch.delenv(var, raising=False)
    resolved = resolve_seed_service("memory_service")
    assert isinstance(resolved, LocalMemoryService)
    resolved.close()
    env = LocalEnvironment("memory-local")
    out: list[str] = []
    env.from_batch(["Alice likes green tea", "The train leaves at nine"]).map(Remember).sink(
        Recall, out
    )
    env.submit(autostop=True)
    assert out[-1] == "Alice likes green tea"
