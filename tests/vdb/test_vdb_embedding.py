"""Collections with an embedding model: texts are embedded through the LLM service's Embed RPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sage_client import InvalidArgument
from sage_client.llm import LLMClient
from sage_client.vdb import VDBClient
from tests.conftest import ServiceProcess, spawn_service

pytest.importorskip("torch")
pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"
DOCS = [
    "The cat sleeps on the warm sofa.",
    "Stock markets fell sharply on Monday.",
    "FAISS builds HNSW graphs for vector search.",
    "A recipe for tomato soup with basil.",
]


@pytest.fixture(scope="module")
def mesh(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    run: Path = tmp_path_factory.mktemp("embed")
    llm = spawn_service(run, "llm", "sage_llm", backend="mock", embeddings="true")
    vdb = spawn_service(run, "vdb", "sage_vdb", llm_address=llm.address, embed_batch=3)
    yield llm, vdb
    vdb.proc.stop(grace=5)
    llm.proc.stop(grace=5)


def test_documents_and_queries_are_embedded_by_the_llm_service(
    mesh: tuple[ServiceProcess, ServiceProcess],
) -> None:
    llm, vdb_proc = mesh
    with VDBClient(address=vdb_proc.address) as vdb, LLMClient(address=llm.address) as embedder:
        vdb.create_collection("texts", 384, embedding_model=MODEL)
        assert vdb.upsert("texts", [f"d{i}" for i in range(4)], documents=DOCS) == 4
        stored = vdb.get("texts", ["d2"], include=["vectors"]).vectors
        assert stored is not None
        np.testing.assert_allclose(stored[0], embedder.embed([DOCS[2]])[0], atol=1e-5)
        results = vdb.search(
            "texts", query_texts=["how do vector indexes work", "feline naps"], top_k=1
        )
        assert [r.ids for r in results] == [["d2"], ["d0"]]
        hybrid = vdb.hybrid_search("texts", None, ["soup recipe"], top_k=1)
        assert hybrid[0].ids == ["d3"]


def test_model_dimension_must_match_the_collection(
    mesh: tuple[ServiceProcess, ServiceProcess],
) -> None:
    _, vdb_proc = mesh
    with VDBClient(address=vdb_proc.address) as vdb:
        vdb.create_collection("small", 8, embedding_model=MODEL)
        with pytest.raises(InvalidArgument) as info:
            vdb.upsert("small", ["a"], documents=["text"])
        assert "384" in info.value.message and "dimension" in info.value.message
        assert vdb.get_collection("small").count == 0
