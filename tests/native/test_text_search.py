"""BM25 text search and hybrid (vector + BM25) fusion."""

from pathlib import Path

import numpy as np
import pytest

from sage_native import Collection

DIM = 16


@pytest.fixture
def col(tmp_path: Path) -> Collection:
    rng = np.random.default_rng(2)
    c = Collection.create(
        str(tmp_path / "c"), DIM, metric="cosine", index={"type": "flat"}, fsync="none"
    )
    n = 200
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    docs = [f"filler text number {i} about nothing much" for i in range(n)]
    c.upsert([f"f{i}" for i in range(n)], vecs, documents=docs)
    yield c
    c.close()


def test_search_text_finds_documents_outside_the_vector_neighbourhood(col: Collection) -> None:
    query = np.ones((1, DIM), np.float32)
    # A document whose vector points the opposite way from the query: no vector neighbour.
    col.upsert(["far"], -query, documents=["kubernetes operator reconciles the cluster"])
    assert "far" not in col.search(query, k=20, include=[])["ids"][0]
    hits = col.search_text(["kubernetes cluster"], k=3, include=["documents"])
    assert hits["ids"][0][0] == "far"
    assert hits["scores"][0, 0] > 0


def test_search_text_handles_chinese(col: Collection) -> None:
    col.upsert(
        ["zh1", "zh2"],
        np.random.default_rng(5).normal(size=(2, DIM)).astype(np.float32),
        documents=["向量数据库支持混合检索", "今天天气很好"],
    )
    assert col.search_text("混合检索", k=1)["ids"] == [["zh1"]]
    assert col.search_text(["天气"], k=1)["ids"] == [["zh2"]]


def test_search_text_respects_where(col: Collection) -> None:
    col.upsert(
        ["a", "b"],
        np.ones((2, DIM), np.float32),
        metadatas=[{"lang": "en"}, {"lang": "de"}],
        documents=["solar panel", "solar panel"],
    )
    assert col.search_text(["solar"], k=5, where={"lang": "de"}, include=[])["ids"] == [["b"]]


def test_deleted_and_replaced_documents_leave_the_text_index(col: Collection) -> None:
    col.upsert(["x"], np.ones((1, DIM), np.float32), documents=["zebra crossing"])
    col.upsert(["x"], np.ones((1, DIM), np.float32), documents=["pedestrian bridge"])
    assert col.search_text(["zebra"], k=5)["ids"] == [[]]
    col.delete(ids=["x"])
    assert col.search_text(["bridge"], k=5)["ids"] == [[]]


@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_hybrid_ranks_a_document_matching_both_above_one_matching_either(
    col: Collection, fusion: str
) -> None:
    rng = np.random.default_rng(9)
    query = rng.normal(size=(1, DIM)).astype(np.float32)
    near = query + 0.01 * rng.normal(size=(1, DIM)).astype(np.float32)
    col.upsert(["vector_only"], near, documents=["unrelated words entirely"])
    col.upsert(["text_only"], -query, documents=["quantum chromodynamics lattice"])
    col.upsert(["both"], near * 1.01, documents=["quantum chromodynamics lattice"])
    res = col.hybrid_search(
        query, ["quantum chromodynamics lattice"], k=3, fusion=fusion, include=[]
    )
    ranking = res["ids"][0]
    assert ranking[0] == "both"
    assert set(ranking[1:]) == {"vector_only", "text_only"}


def test_hybrid_rejects_mismatched_inputs(col: Collection) -> None:
    with pytest.raises(ValueError, match="one text per vector"):
        col.hybrid_search(np.ones((2, DIM), np.float32), ["only one"], k=3)
    with pytest.raises(ValueError, match="unknown fusion"):
        col.hybrid_search(np.ones((1, DIM), np.float32), ["q"], k=3, fusion="max")
    with pytest.raises(ValueError, match="alpha"):
        col.hybrid_search(np.ones((1, DIM), np.float32), ["q"], k=3, fusion="weighted", alpha=2.0)
