"""SearchExecutor: searches on native threads, collected when its eventfd turns readable."""

from __future__ import annotations

import select
from pathlib import Path

import numpy as np
import pytest

from sage_native import Collection, SearchExecutor


def collection(path: Path, n: int = 3000, dim: int = 24) -> tuple[Collection, np.ndarray]:
    x = np.random.default_rng(1).standard_normal((n, dim)).astype(np.float32)
    col = Collection.create(str(path), dim, metric="l2", index={"type": "hnsw"}, fsync="none")
    col.upsert([str(i) for i in range(n)], x, [{"i": i} for i in range(n)])
    return col, x


def collect_all(ex: SearchExecutor, count: int, timeout_s: float = 10.0) -> dict[int, object]:
    results: dict[int, object] = {}
    while len(results) < count:
        ready, _, _ = select.select([ex.fd()], [], [], timeout_s)
        assert ready, f"no result within {timeout_s} s ({len(results)} of {count})"
        results.update(ex.collect())
    return results


def test_results_equal_the_blocking_search_and_the_fd_signals_them(tmp_path: Path) -> None:
    col, x = collection(tmp_path / "c")
    ex = SearchExecutor(2)
    assert select.select([ex.fd()], [], [], 0)[0] == []  # nothing finished, nothing to read
    tickets = {
        ex.submit(col, x[i : i + 2], 5, None, None, ["metadatas"]): i for i in range(0, 40, 2)
    }
    results = collect_all(ex, len(tickets))
    for ticket, i in tickets.items():
        got, want = results[ticket], col.search(x[i : i + 2], 5, include=["metadatas"])
        assert got["ids"] == want["ids"] and got["metadatas"] == want["metadatas"]
        np.testing.assert_array_equal(got["scores"], want["scores"])
    assert ex.collect() == []
    ex.shutdown()
    col.close()


def test_bad_input_fails_its_own_search_only(tmp_path: Path) -> None:
    col, x = collection(tmp_path / "c")
    ex = SearchExecutor(1)
    bad_filter = ex.submit(col, x[:1], 5, {"i": {"$like": 3}}, None, [])
    nan = x[:1].copy()
    nan[0, 3] = np.nan
    bad_vector = ex.submit(col, nan, 5, None, None, [])
    good = ex.submit(col, x[:1], 5, {"i": {"$lt": 100}}, None, [])
    results = collect_all(ex, 3)
    assert isinstance(results[bad_filter], ValueError) and "where.i" in str(results[bad_filter])
    assert isinstance(results[bad_vector], ValueError) and "NaN" in str(results[bad_vector])
    assert all(int(i) < 100 for i in results[good]["ids"][0])
    with pytest.raises(ValueError, match="dimension"):
        ex.submit(col, x[:1, :10], 5, None, None, [])  # what cannot even be read fails at once
    ex.shutdown()
    col.close()


def test_a_collection_dropped_or_closed_mid_flight_is_safe(tmp_path: Path) -> None:
    col, x = collection(tmp_path / "c")
    ex = SearchExecutor(1)
    tickets = [ex.submit(col, x[i : i + 1], 5, None, None, []) for i in range(200)]
    col.close()  # searches that start after this fail; the object stays alive until they end
    del col
    results = collect_all(ex, len(tickets))
    assert all(isinstance(r, dict | ValueError) for r in results.values())
    assert any(isinstance(r, ValueError) and "closed" in str(r) for r in results.values())
    ex.shutdown()


def test_shutdown_finishes_the_queue_and_refuses_more(tmp_path: Path) -> None:
    col, x = collection(tmp_path / "c")
    ex = SearchExecutor(2)
    ex.submit(col, x[:1], 5, None, None, [])
    ex.shutdown()
    with pytest.raises(ValueError, match="shut down"):
        ex.submit(col, x[:1], 5, None, None, [])
    col.close()
