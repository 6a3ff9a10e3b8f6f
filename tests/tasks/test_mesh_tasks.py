"""The tasks that touch the mesh, on real services: a folder ingested into a VDB collection,
texts embedded, an evaluation run — by a worker calling the VDB and LLM services as `service`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sage_client.tasks import TaskClient
from sage_client.vdb import VDBClient
from tests.conftest import ServiceProcess, spawn_service
from tests.tasks.conftest import _spawn


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    run = tmp_path_factory.mktemp("task-mesh")
    llm: ServiceProcess = spawn_service(run, "llm", "sage_llm", backend="mock", embeddings="true")
    vdb = spawn_service(run, "vdb", "sage_vdb", llm_address=llm.address)
    yield llm.address, vdb.address, run
    vdb.proc.stop(grace=3)
    llm.proc.stop(grace=3)


@pytest.mark.slow
def test_ingest_embed_and_evaluate_run_on_the_mesh(services, redis_url: str) -> None:
    llm_addr, vdb_addr, run = services
    docs = run / "docs"
    docs.mkdir()
    (docs / "cats.md").write_text("# Cats\n\nThe cat sleeps on the warm sofa all afternoon.\n")
    (docs / "faiss.md").write_text("# FAISS\n\nFAISS builds HNSW graphs for vector search.\n")
    worker = _spawn(
        run, "mesh-worker", redis_url, vdb_addr=vdb_addr, llm_addr=llm_addr, ingest_roots=run
    )
    try:
        worker.wait_ready_file(90)
        with TaskClient(redis_url) as tasks:
            ingest = tasks.submit("sage.ingest_folder", collection="task_docs", folder=str(docs))
            assert ingest.result(timeout=120) == {
                "collection": "task_docs",
                "files": 2,
                "chunks": 2,
            }
            texts = ["feline naps", "b", "c"]
            vectors = tasks.submit("sage.embed_batch", texts, batch_size=2).result(60)
            assert len(vectors) == 3 and len(vectors[0]) == 384
            questions = [{"question": "what builds HNSW graphs?", "gold_sources": ["faiss.md"]}]
            report = tasks.submit("sage.evaluate", "task_docs", questions, k=1).result(120)
            assert report["questions"] == 1 and report["summary"]
        with VDBClient(address=vdb_addr) as vdb:  # the ingested chunks, found by the vector
            hits = vdb.search("task_docs", [vectors[0]], top_k=1, include=["metadatas"])
            assert hits[0].metadatas[0]["source"] == "cats.md"
    finally:
        worker.stop(grace=2)
