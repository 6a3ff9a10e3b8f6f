"""SAGE's neuromem (``sage.middleware.components.sage_mem``) through its SAGE import paths:
programs written here in the style of SAGE's memory_service tutorials (rag_memory_manager,
document_storage_demo, graph_memory_example, vdb_statistics_example)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sage.common.components.sage_embedding.embedding_api import apply_embedding_model
from sage.middleware.components.sage_mem import GraphMemoryCollection, KVMemoryCollection
from sage.middleware.components.sage_mem.neuromem.memory_collection.vdb_collection import (
    VDBMemoryCollection,
)
from sage.middleware.components.sage_mem.neuromem.memory_manager import MemoryManager

DOCS = [
    ("python pandas dataframes for data analysis", {"topic": "data", "year": 2024}),
    ("transformer models for natural language processing", {"topic": "nlp", "year": 2023}),
    ("training deep neural networks on gpus", {"topic": "dl", "year": 2022}),
]
INDEX = {"name": "idx", "embedding_model": "hash", "dim": 384, "backend_type": "FAISS"}


def _vec(text: str) -> np.ndarray:
    v = np.asarray(apply_embedding_model("hash").encode(text), dtype=np.float32)
    return v / np.linalg.norm(v)


def _filled(manager: MemoryManager, name: str = "docs") -> VDBMemoryCollection:
    collection = manager.create_collection({"name": name, "backend_type": "VDB"})
    assert isinstance(collection, VDBMemoryCollection)
    collection.create_index(INDEX)
    collection.batch_insert_data([t for t, _ in DOCS], [m for _, m in DOCS])
    ids = collection.get_all_ids()
    collection.init_index("idx", [_vec(t) for t, _ in DOCS], ids)
    return collection


def test_rag_memory_manager_round_trip_through_the_data_dir(tmp_path: Path) -> None:
    manager = MemoryManager(str(tmp_path / "mem"))
    collection = _filled(manager)
    hits = collection.retrieve(
        query_vector=_vec("pandas data analysis"), index_name="idx", topk=2, threshold=0.1,
        with_metadata=True,
    )  # fmt: skip
    assert hits[0] == {"text": DOCS[0][0], "metadata": DOCS[0][1]}
    manager.store_collection()

    again = MemoryManager(str(tmp_path / "mem"))  # a second run: "already initialized"
    assert again.has_collection("docs") and again.list_collection("docs")["status"] == "on_disk"
    loaded = again.get_collection("docs")
    assert isinstance(loaded, VDBMemoryCollection) and loaded is not collection
    texts = loaded.retrieve(_vec("natural language transformer"), "idx", topk=1, threshold=0.1)
    assert texts == [DOCS[1][0]]
    assert loaded.retrieve("pandas data analysis", "idx", topk=1, threshold=0.1) == [DOCS[0][0]]
    assert again.create_collection({"name": "docs", "backend_type": "VDB"}) is None
    assert again.delete_collection("docs") and not again.has_collection("docs")
    assert not (tmp_path / "mem" / "vdb_collection" / "docs").exists()


def test_filters_updates_and_deletes_keep_storage_and_index_in_step(tmp_path: Path) -> None:
    collection = _filled(MemoryManager(str(tmp_path)))
    all_ids = collection.get_all_ids()
    assert [
        collection.text_storage.get(i) for i in collection.filter_ids(all_ids, topic="nlp")
    ] == [DOCS[1][0]]
    recent = collection.filter_ids(all_ids, metadata_filter_func=lambda m: m["year"] >= 2023)
    assert len(recent) == 2
    hits = collection.retrieve(
        query_vector=_vec("python pandas"), index_name="idx", topk=3, threshold=-1.0,
        with_metadata=True, metadata_filter=lambda m: m["topic"] != "data",
    )  # fmt: skip
    assert DOCS[0][0] not in [h["text"] for h in hits] and len(hits) == 2

    doc_id = collection._get_stable_id(DOCS[1][0])
    with pytest.raises(ValueError, match="add_metadata_field"):
        collection.metadata_storage.store(doc_id, {"version": 2})
    collection.add_metadata_field("version")
    collection.metadata_storage.store(doc_id, {"topic": "nlp", "version": 2})
    assert collection.metadata_storage.get(doc_id)["version"] == 2

    assert collection.delete(DOCS[0][0]) is True
    assert len(collection.get_all_ids()) == 2
    left = collection.retrieve(_vec("python pandas"), "idx", topk=3, threshold=-1.0)
    assert DOCS[0][0] not in left and collection.indexes["idx"].count == 2


def test_bad_input_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    collection = _filled(MemoryManager(str(tmp_path)))
    with pytest.raises(ValueError, match="no index 'nope'.*idx"):
        collection.insert("nope", "a new memory", _vec("a new memory"))
    with pytest.raises(ValueError, match="dimension 384"):
        collection.insert(index_name="idx", raw_data="short vector", vector=[1.0, 0.0])
    with pytest.raises(ValueError, match="dimension"):
        collection.init_index("idx", [np.ones(3)], collection.get_all_ids()[:1])
    assert len(collection.get_all_ids()) == 3 and collection.indexes["idx"].count == 3
    with pytest.raises(ValueError, match="texts but"):
        collection.batch_insert_data(["x", "y"], [{}])
    with pytest.raises(ValueError, match="backend_type"):
        MemoryManager(str(tmp_path)).create_collection({"name": "c", "backend_type": "SQL"})
    item = collection.insert(content="kept", index_names="idx", vector=_vec("kept"))
    assert collection.text_storage.get(item) == "kept" and collection.indexes["idx"].count == 4


def test_vdb_statistics_count_what_happened() -> None:
    collection = VDBMemoryCollection(config={"name": "stats"})
    collection.create_index(config=INDEX)
    for text, meta in DOCS:
        collection.insert("idx", text, _vec(text), metadata=meta)
    collection.retrieve(_vec("pandas"), "idx", topk=2)
    stats = collection.get_statistics()
    assert (stats["insert_count"], stats["retrieve_count"], stats["index_create_count"]) == (
        3,
        1,
        1,
    )
    assert stats["total_vectors_stored"] == 3
    assert collection.get_retrieve_stats(last_n=5)["total_retrieve_count"] == 1
    collection.reset_statistics()
    assert collection.get_statistics()["insert_count"] == 0


def test_kv_collection_ranks_by_bm25() -> None:
    collection = KVMemoryCollection({"name": "kv"})
    collection.batch_insert_data([t for t, _ in DOCS], [m for _, m in DOCS])
    collection.create_index({"name": "bm25", "index_type": "bm25s"})
    assert collection.retrieve("neural networks", topk=1) == [DOCS[2][0]]
    collection.insert("redis streams for event logs", {"topic": "infra"})
    got = collection.retrieve("event logs", topk=1, with_metadata=True, index_name="bm25")
    assert got == [{"text": "redis streams for event logs", "metadata": {"topic": "infra"}}]


def test_graph_collection_neighbours_traversal_and_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGE_NEUROMEM_DATA_DIR", str(tmp_path / "default"))
    graph = GraphMemoryCollection({"name": "kg"})
    graph.create_index({"name": "concepts"})
    for node, level in (("ai", "top"), ("ml", "mid"), ("nlp", "mid"), ("dl", "low")):
        graph.add_node(node, f"{node} text", metadata={"level": level})
    graph.add_edge("ai", "ml", weight=1.0)
    graph.add_edge("ai", "nlp", weight=0.9)
    graph.add_edge("ml", "dl", weight=0.95)
    assert [n["node_id"] for n in graph.get_neighbors("ai", k=5)] == ["ml", "nlp"]
    walk = graph.retrieve_by_graph("ai", max_depth=2, max_nodes=5)
    assert [(w["node_id"], w["depth"]) for w in walk] == [
        ("ai", 0),
        ("ml", 1),
        ("nlp", 1),
        ("dl", 2),
    ]
    assert sorted(r["text"] for r in graph.retrieve(with_metadata=True, level="mid")) == [
        "ml text",
        "nlp text",
    ]
    with pytest.raises(KeyError, match="add_node"):
        graph.add_edge("ai", "ghost")

    manager = MemoryManager()  # the default data dir ($SAGE_NEUROMEM_DATA_DIR here)
    papers = manager.create_collection({"name": "papers", "backend_type": "graph"})
    papers.create_index({"name": "p"})
    for pid in ("attention", "bert", "gpt"):
        papers.add_node(pid, f"{pid} paper")
    papers.add_edge("bert", "attention")
    papers.add_edge("gpt", "attention", weight=0.5)
    citing = papers.indexes["p"].get_neighbors("attention", k=10, direction="incoming")
    assert citing == [("bert", 1.0), ("gpt", 0.5)]
    manager.store_collection("papers")
    reloaded = MemoryManager().get_collection("papers")
    assert reloaded.get_neighbors("gpt", k=5)[0]["node_id"] == "attention"
    assert (tmp_path / "default" / "graph_collection" / "papers").is_dir()


def test_sage_qa_promptor_renders_a_jinja_system_template() -> None:
    from sage.middleware.operators.rag import QAPromptor

    template = "You help.\n{%- if external_corpus %}\nHistory:\n{{ external_corpus }}\n{%- endif %}"
    promptor = QAPromptor({"template": template})
    original, messages = promptor.execute({"question": "Why?", "external_corpus": ["a", "b"]})
    assert original["question"] == "Why?"
    assert messages == [
        {"role": "system", "content": "You help.\nHistory:\na\nb"},
        {"role": "user", "content": "Question: Why?"},
    ]
    _, bare = promptor.execute("Why?")
    assert "History" not in bare[0]["content"] and bare[1]["content"] == "Question: Why?"


def test_parallel_vdb_service_inserts_every_batch_and_counts_failures() -> None:
    from sage.middleware.components.sage_mem.services import (
        ParallelVDBService,
        parallel_insert_to_vdb,
    )

    collection = VDBMemoryCollection(config={"name": "parallel"})
    collection.create_index(config={"name": "main", "dim": 128, "backend_type": "FAISS"})
    service = ParallelVDBService(
        collection=collection, embedding_config={"method": "mockembedder"}, max_workers=3
    )
    service.setup()
    texts = [f"document {i}" for i in range(25)]
    result = service.parallel_batch_insert(
        texts, "main", metadatas=[{"i": i} for i in range(25)], batch_size=4
    )
    assert (result.total_texts, result.total_inserted, result.total_failed) == (25, 25, 0)
    assert collection.indexes["main"].count == 25 and len(collection.get_all_ids()) == 25
    with pytest.raises(ValueError, match="no index"):
        service.parallel_batch_insert(texts, "missing")
    service.cleanup()
    wide = VDBMemoryCollection(config={"name": "wide"})
    wide.create_index(config={"name": "main", "dim": 64})  # mock vectors are 128-d: refused
    failed = parallel_insert_to_vdb(texts[:6], wide, "main", {"method": "mockembedder"}, 2, 3)
    assert (failed.total_inserted, failed.total_failed) == (0, 6) and "dimension" in failed.errors[
        0
    ]
    assert wide.get_all_ids() == []
