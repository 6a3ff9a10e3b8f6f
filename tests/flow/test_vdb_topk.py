"""Streaming top-k against a collection of the real VDB service, through the SDK (batched)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from sage_client import LocalEnvironment
from sage_client.errors import Unauthenticated
from sage_client.flow import VDBTarget, VectorRecord, stream_topk
from sage_client.vdb import VDBClient
from tests.conftest import ServiceProcess, spawn_service

DIM = 16


@pytest.fixture(scope="module")
def vdb_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = spawn_service(tmp_path_factory.mktemp("flow-vdb"), "vdb", "sage_vdb")
    yield service
    service.proc.stop(grace=5)


class _CountingClient:
    """The SDK client, counting Search calls (to see the batching)."""

    def __init__(self, client: VDBClient) -> None:
        self.client = client
        self.searches = 0

    def get_collection(self, name: str):  # noqa: ANN201
        return self.client.get_collection(name)

    def search(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        self.searches += 1
        return self.client.search(*args, **kwargs)


def test_stream_topk_through_the_vdb_service_equals_direct_search(
    vdb_service: ServiceProcess,
) -> None:
    client = VDBClient(address=vdb_service.address)
    rng = np.random.default_rng(0)
    base = rng.standard_normal((200, DIM)).astype(np.float32)
    client.create_collection("flowc", DIM, metric="cosine", index={"type": "flat"})
    client.upsert(
        "flowc", [f"p{i}" for i in range(200)], base, documents=[f"doc {i}" for i in range(200)]
    )
    queries = rng.standard_normal((45, DIM)).astype(np.float32)
    counting = _CountingClient(client)
    out: list = []
    env = LocalEnvironment("flow-vdb")
    records = [VectorRecord(f"q{i}", float(i), queries[i]) for i in range(45)]
    stream_topk(
        env.from_batch(records),
        counting,
        k=3,
        collection="flowc",
        batch_size=20,
        include_documents=True,
    ).sink(out.append)
    env.submit(autostop=True)
    env.close()
    assert counting.searches == 3  # 45 records in batches of 20: 20 + 20 + 5
    direct = client.search("flowc", queries, top_k=3, include=["documents"])
    by_uid = {n.uid: n for n in out}
    for i in range(45):
        got = by_uid[f"q{i}"]
        assert got.ids == direct[i].ids and got.documents == direct[i].documents
        np.testing.assert_allclose(got.scores, direct[i].scores, rtol=1e-6)
    client.close()


def test_vdb_target_needs_a_credential(
    vdb_service: ServiceProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client presenting a wrong token is refused before any search runs.
    client = VDBClient(address=vdb_service.address, token="not-a-valid-token")
    with pytest.raises(Unauthenticated):
        VDBTarget(client, "flowc")
    client.close()


def test_vdb_target_dimension_mismatch_names_both(vdb_service: ServiceProcess) -> None:
    client = VDBClient(address=vdb_service.address)
    client.create_collection("flowd", DIM, metric="l2", index={"type": "flat"})
    out: list = []
    env = LocalEnvironment("flow-vdb-dim")
    records = [VectorRecord("q", 0.0, np.ones(DIM + 2, np.float32))]
    stream_topk(env.from_batch(records), client, k=1, collection="flowd").sink(out.append)
    with pytest.raises(ValueError, match=f"dimension {DIM + 2}.*dimension {DIM}"):
        try:
            env.submit(autostop=True)
        finally:
            env.close()  # re-raises the job's error too
    client.close()
