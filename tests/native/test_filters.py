"""Native filter results against the Python reference evaluator, table-driven."""

from pathlib import Path

import numpy as np
import pytest

from sage_native import Collection

from .filter_reference import document_matches, matches

N = 300
COLORS = ["red", "green", "blue", "é-accent"]
WORDS = ["alpha", "beta", "gamma", "向量", "数据库"]


def make_records() -> tuple[list[str], list[dict], list[str | None]]:
    rng = np.random.default_rng(11)
    ids, metas, docs = [], [], []
    for i in range(N):
        m: dict = {}
        if rng.random() < 0.8:
            m["n"] = int(rng.integers(-5, 20))
        if rng.random() < 0.8:
            m["x"] = float(rng.normal())
        if rng.random() < 0.9:
            m["color"] = COLORS[int(rng.integers(0, len(COLORS)))]
        if rng.random() < 0.7:
            m["flag"] = bool(rng.random() < 0.5)
        if rng.random() < 0.6:
            m["tags"] = [
                COLORS[int(j)]
                for j in rng.choice(len(COLORS), size=int(rng.integers(0, 3)), replace=False)
            ]
        ids.append(f"r{i}")
        metas.append(m)
        docs.append(None if rng.random() < 0.1 else " ".join(rng.choice(WORDS, size=3)))
    return ids, metas, docs


WHERE_CASES = [
    {"n": 3},
    {"n": {"$eq": 3.0}},
    {"n": {"$ne": 3}},
    {"n": {"$gt": 10}},
    {"n": {"$gte": 10}},
    {"n": {"$lt": 0}},
    {"n": {"$lte": 0.5}},
    {"x": {"$gt": 0.0, "$lt": 1.0}},
    {"color": "red"},
    {"color": "é-accent"},
    {"color": {"$ne": "red"}},
    {"color": {"$in": ["red", "blue"]}},
    {"color": {"$nin": ["red", "blue"]}},
    {"color": "purple"},
    {"flag": True},
    {"flag": {"$ne": False}},
    {"tags": "green"},
    {"tags": {"$in": ["red", "blue"]}},
    {"tags": {"$nin": ["red"]}},
    {"missing_field": 1},
    {"missing_field": {"$ne": 1}},
    {"n": "3"},
    {"$and": [{"n": {"$gt": 2}}, {"color": "green"}]},
    {"$or": [{"n": {"$lt": -3}}, {"flag": True}, {"tags": "blue"}]},
    {"$and": [{"$or": [{"color": "red"}, {"color": "blue"}]}, {"x": {"$lte": 0}}]},
    {"n": {"$in": [1, 2, 3.0]}, "color": {"$ne": "green"}},
]

DOCUMENT_CASES = [
    {"$contains": "alpha"},
    {"$not_contains": "beta"},
    {"$contains": "向量"},
    {"$and": [{"$contains": "alpha"}, {"$not_contains": "gamma"}]},
    {"$or": [{"$contains": "数据"}, {"$contains": "beta gamma"}]},
]


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Collection, list[str], list[dict], list]:
    ids, metas, docs = make_records()
    path: Path = tmp_path_factory.mktemp("filters") / "c"
    col = Collection.create(str(path), 4, metric="l2", index={"type": "hnsw", "M": 8}, fsync="none")
    vecs = np.random.default_rng(0).normal(size=(N, 4)).astype(np.float32)
    col.upsert(ids, vecs, metadatas=metas, documents=docs)
    yield col, ids, metas, docs
    col.close()


@pytest.mark.parametrize("where", WHERE_CASES, ids=[str(w) for w in WHERE_CASES])
def test_where_matches_reference(setup, where: dict) -> None:
    col, ids, metas, _ = setup
    expected = {i for i, m in zip(ids, metas, strict=True) if matches(where, m)}
    assert set(col.get(where=where, include=[])["ids"]) == expected
    hits = col.search(np.zeros((1, 4), np.float32), k=N, where=where, include=[])["ids"][0]
    assert set(hits) == expected


@pytest.mark.parametrize("where_document", DOCUMENT_CASES, ids=[str(w) for w in DOCUMENT_CASES])
def test_where_document_matches_reference(setup, where_document: dict) -> None:
    col, ids, _, docs = setup
    expected = {i for i, d in zip(ids, docs, strict=True) if document_matches(where_document, d)}
    assert set(col.get(where_document=where_document, include=[])["ids"]) == expected


def test_where_and_where_document_combine(setup) -> None:
    col, ids, metas, docs = setup
    where, wd = {"n": {"$gte": 5}}, {"$contains": "gamma"}
    expected = {
        i
        for i, m, d in zip(ids, metas, docs, strict=True)
        if matches(where, m) and document_matches(wd, d)
    }
    assert set(col.get(where=where, where_document=wd, include=[])["ids"]) == expected


def test_filtered_top_k_returns_k_hits_whenever_k_match(tmp_path: Path) -> None:
    n = 5000
    col = Collection.create(
        str(tmp_path / "c"), 16, metric="l2", index={"type": "hnsw", "M": 8}, fsync="none"
    )
    vecs = np.random.default_rng(1).normal(size=(n, 16)).astype(np.float32)
    col.upsert([str(i) for i in range(n)], vecs, metadatas=[{"g": i % 1000} for i in range(n)])
    res = col.search(vecs[:20], k=5, where={"g": 7}, include=["metadatas"])  # 5 of 5000 match
    for row, metas in zip(res["ids"], res["metadatas"], strict=True):
        assert len(row) == 5
        assert all(m["g"] == 7 for m in metas)
    col.close()
