"""Exact search equals numpy brute force; approximate indexes reach recall@10 >= 0.95."""

from pathlib import Path

import numpy as np
import pytest

from sage_native import Collection


def brute_force(base: np.ndarray, queries: np.ndarray, k: int, metric: str) -> np.ndarray:
    if metric == "cosine":
        base = base / np.linalg.norm(base, axis=1, keepdims=True)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    if metric == "l2":
        scores = ((queries[:, None, :].astype(np.float64) - base[None, :, :]) ** 2).sum(-1)
        return np.argsort(scores, axis=1, kind="stable")[:, :k]
    scores = queries.astype(np.float64) @ base.T.astype(np.float64)
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def clustered(n: int, nq: int, dim: int = 128, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(64, dim)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        return (centers[rng.integers(0, 64, count)] + 0.35 * rng.normal(size=(count, dim))).astype(
            np.float32
        )

    return draw(n), draw(nq)


def recall_at_10(found: list[list[str]], truth: np.ndarray) -> float:
    return float(
        np.mean(
            [
                len({int(i) for i in f} & set(t.tolist())) / 10
                for f, t in zip(found, truth, strict=True)
            ]
        )
    )


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_flat_search_equals_brute_force(tmp_path: Path, metric: str) -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=(2000, 32)).astype(np.float32)
    queries = rng.normal(size=(25, 32)).astype(np.float32)
    col = Collection.create(
        str(tmp_path / "c"), 32, metric=metric, index={"type": "flat"}, fsync="none"
    )
    col.upsert([str(i) for i in range(len(base))], base)
    res = col.search(queries, k=10, include=[])
    expected = brute_force(base, queries, 10, metric)
    assert [[int(i) for i in row] for row in res["ids"]] == expected.tolist()
    # Scores are the metric's values: squared L2, inner product or cosine similarity.
    first = base[expected[0, 0]]
    q = queries[0]
    want = {
        "l2": float(((q - first) ** 2).sum()),
        "ip": float(q @ first),
        "cosine": float(q @ first / np.linalg.norm(q) / np.linalg.norm(first)),
    }[metric]
    assert res["scores"][0, 0] == pytest.approx(want, rel=1e-4, abs=1e-4)
    col.close()


@pytest.fixture(scope="module")
def data_20k() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    base, queries = clustered(20_000, 200)
    return base, queries, brute_force_l2_chunked(base, queries)


def brute_force_l2_chunked(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    d = (base.astype(np.float64) ** 2).sum(1)[None, :] - 2 * queries.astype(
        np.float64
    ) @ base.T.astype(np.float64)
    return np.argsort(d, axis=1)[:, :10]


@pytest.mark.parametrize(
    "index",
    [
        {"type": "hnsw", "M": 16, "ef_construction": 100, "ef_search": 64},
        {"type": "ivf", "nlist": 64, "nprobe": 8},
    ],
    ids=["hnsw", "ivf"],
)
def test_approximate_index_recall_at_10(tmp_path: Path, data_20k, index: dict) -> None:
    base, queries, truth = data_20k
    col = Collection.create(str(tmp_path / "c"), 128, metric="l2", index=index, fsync="none")
    col.upsert([str(i) for i in range(len(base))], base)
    assert col.stats()["index_trained"]
    found = col.search(queries, k=10, include=[])["ids"]
    assert recall_at_10(found, truth) >= 0.95
    col.close()


def test_ivf_searches_exactly_until_trained(tmp_path: Path) -> None:
    base, queries = clustered(300, 10, dim=16)
    col = Collection.create(
        str(tmp_path / "c"),
        16,
        metric="l2",
        index={"type": "ivf", "nlist": 16, "train_min": 1000},
        fsync="none",
    )
    col.upsert([str(i) for i in range(300)], base)
    assert not col.stats()["index_trained"]
    found = col.search(queries, k=10, include=[])["ids"]
    assert [[int(i) for i in row] for row in found] == brute_force(base, queries, 10, "l2").tolist()
    more, _ = clustered(800, 1, dim=16, seed=9)
    col.upsert([f"m{i}" for i in range(800)], more)
    assert col.stats()["index_trained"]
    assert col.count() == 1100
    col.close()


@pytest.mark.parametrize("metric", ["ip", "cosine"])
def test_hnsw_similarity_metrics_find_the_brute_force_neighbours(
    tmp_path: Path, metric: str
) -> None:
    base, queries = clustered(3000, 50, dim=32)
    col = Collection.create(
        str(tmp_path / "c"), 32, metric=metric, index={"type": "hnsw"}, fsync="none"
    )
    col.upsert([str(i) for i in range(len(base))], base)
    res = col.search(queries, k=10, include=[])
    assert recall_at_10(res["ids"], brute_force(base, queries, 10, metric)) >= 0.95
    assert (np.diff(res["scores"], axis=1) <= 1e-6).all()  # similarity: best (largest) first
    col.close()


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_hnsw_walks_on_codes_and_returns_exact_scores(tmp_path: Path, metric: str) -> None:
    base, queries = clustered(3000, 20, dim=48)
    col = Collection.create(
        str(tmp_path / "c"), 48, metric=metric, index={"type": "hnsw"}, fsync="none"
    )
    col.upsert([str(i) for i in range(len(base))], base)
    assert col.stats()["walk_codes"] == "sq8"
    res = col.search(queries, k=10, include=[])
    assert recall_at_10(res["ids"], brute_force(base, queries, 10, metric)) >= 0.95
    # The walk's candidates are re-scored from the float vectors: each score is the exact one.
    for q, ids, scores in zip(queries, res["ids"], res["scores"], strict=True):
        x = base[[int(i) for i in ids]].astype(np.float64)
        if metric == "l2":
            want = ((x - q) ** 2).sum(1)
        else:
            want = x @ q / np.linalg.norm(x, axis=1) / np.linalg.norm(q)
        np.testing.assert_allclose(scores, want, rtol=1e-4, atol=1e-4)
    col.close()


def test_small_hnsw_collections_walk_on_the_float_vectors(tmp_path: Path) -> None:
    base, _ = clustered(500, 1, dim=16)
    col = Collection.create(
        str(tmp_path / "c"), 16, metric="l2", index={"type": "hnsw"}, fsync="none"
    )
    col.upsert([str(i) for i in range(len(base))], base)
    assert col.stats()["walk_codes"] == "none"
    col.close()


def test_codes_follow_data_that_moves_out_of_their_range(tmp_path: Path) -> None:
    # 3000 vectors teach the codes their ranges; 1000 more far outside them would all clamp to
    # the same codes (and the walk would be blind among them) unless the ranges are re-learned.
    base, _ = clustered(3000, 1, dim=32, seed=1)
    moved, queries = clustered(1000, 30, dim=32, seed=2)
    moved, queries = moved + 40.0, queries + 40.0
    col = Collection.create(
        str(tmp_path / "c"), 32, metric="l2", index={"type": "hnsw"}, fsync="none"
    )
    col.upsert([str(i) for i in range(3000)], base)
    col.upsert([str(3000 + i) for i in range(1000)], moved)
    everything = np.concatenate([base, moved])
    res = col.search(queries, k=10, include=[])
    assert recall_at_10(res["ids"], brute_force(everything, queries, 10, "l2")) >= 0.95
    col.close()


def test_codes_are_rebuilt_when_a_collection_is_reopened(tmp_path: Path) -> None:
    base, queries = clustered(2000, 10, dim=24)
    path = str(tmp_path / "c")
    col = Collection.create(path, 24, metric="cosine", index={"type": "hnsw"}, fsync="none")
    col.upsert([str(i) for i in range(len(base))], base)
    before = col.search(queries, k=5, include=[])["ids"]
    col.snapshot()
    col.close()
    col = Collection.open(path)
    assert col.stats()["walk_codes"] == "sq8"
    assert col.search(queries, k=5, include=[])["ids"] == before
    col.close()
