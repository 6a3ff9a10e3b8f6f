"""The seed's service names from pipeline functions, in-process (no mesh) and over the mesh."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sage_client import LocalEnvironment, MapFunction, SinkFunction
from sage_client.dataflow import set_remote_resolver
from sage_client.services import LocalKVService, SeedVDBService, resolve_seed_service
from tests.conftest import ServiceProcess
from tests.vdb.conftest import random_vectors

VECTORS = random_vectors(6, 8, seed=11)


@pytest.fixture(autouse=True)
def seed_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Other test modules install their own resolver and reset it; this one needs the seed's.
    for var in ("SAGE_ETCD_ENDPOINTS", "SAGE_KV_ADDR", "SAGE_VDB_ADDR"):
        monkeypatch.delenv(var, raising=False)
    set_remote_resolver(resolve_seed_service)
    yield
    set_remote_resolver(resolve_seed_service)


class Remember(MapFunction):
    def execute(self, i: int) -> int:
        kv = self.call_service("kv_service")
        kv.put(f"k{i}", {"i": i})
        self.call_service("vdb_service").add(
            [f"text {i}"], vectors=VECTORS[i], ids=[f"v{i}"], metadatas=[{"i": i}]
        )
        return i


class Recall(SinkFunction):
    def __init__(self, out: list[Any]) -> None:
        self.out = out

    def execute(self, i: int) -> None:
        vdb = self.call_service["vdb_service"]
        hits = vdb.search(VECTORS[i], top_k=1)
        self.out.append(
            (self.call_service("kv_service").get(f"k{i}"), hits[0]["id"], hits[0]["metadata"])
        )


def _pipeline() -> list[Any]:
    env = LocalEnvironment("seed")
    out: list[Any] = []
    env.from_batch(list(range(6))).map(Remember).sink(Recall, out)
    env.submit(autostop=True)
    return sorted(out, key=lambda row: row[0]["i"])


def test_seed_names_run_in_process_without_servers() -> None:
    out = _pipeline()
    assert out == [({"i": i}, f"v{i}", {"i": i}) for i in range(6)]


def test_without_a_mesh_the_names_resolve_in_process() -> None:
    assert isinstance(resolve_seed_service("kv_service"), LocalKVService)
    vdb = resolve_seed_service("vdb_service")
    assert isinstance(vdb, SeedVDBService)
    vdb.close()
    assert resolve_seed_service("not_a_seed_name") is None


def test_vdb_service_get_update_delete_in_process() -> None:
    vdb = resolve_seed_service("vdb_service")
    try:
        vdb.add(["a", "b"], vectors=VECTORS[:2], ids=["a", "b"], metadatas=[{"n": 1}, {"n": 2}])
        assert vdb.get("a")["metadata"] == {"n": 1}
        assert vdb.update("a", metadata={"n": 10}) is True
        assert vdb.get("a")["metadata"] == {"n": 10} and vdb.get("a")["document"] == "a"
        assert vdb.search(VECTORS[0], top_k=1)[0]["id"] == "a"
        assert vdb.update("missing", metadata={}) is False
        assert vdb.delete(["a"]) == 1
        assert vdb.get("a") is None
    finally:
        vdb.close()


def test_with_a_mesh_the_names_go_to_the_services(
    vdb_service: ServiceProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGE_VDB_ADDR", vdb_service.address)
    vdb = resolve_seed_service("vdb_service")
    try:
        ids = vdb.add(["mesh doc"], vectors=VECTORS[3])
        hit = vdb.search(VECTORS[3], top_k=1)[0]
        assert hit["id"] == ids[0] and hit["document"] == "mesh doc"
        assert vdb.update(ids[0], "changed", vector=VECTORS[4]) is True
        assert vdb.get(ids[0])["document"] == "changed"
        assert vdb.delete(ids) == 1
    finally:
        vdb.close()
