"""HNSW writes return before their graph insertion: searches scan the not-yet-inserted vectors
exactly, a background indexer inserts them, and ``upsert(wait=False)`` applies a small write only
when that needs no waiting."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sage_native import Collection


def vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def hnsw(path: Path, dim: int = 32) -> Collection:
    return Collection.create(str(path), dim, metric="l2", index={"type": "hnsw"}, fsync="none")


def wait_indexed(col: Collection, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while col.stats()["index_pending"]:
        assert time.monotonic() < deadline, "the indexer did not catch up"
        time.sleep(0.005)


def test_a_trickled_vector_is_found_before_and_after_its_graph_insertion(tmp_path: Path) -> None:
    col = hnsw(tmp_path / "c")
    base = vectors(3000)
    col.upsert([str(i) for i in range(3000)], base)
    assert col.stats()["index_pending"] == 0  # a batch this size is inserted by the write itself
    fresh = vectors(20, seed=1)
    for i, v in enumerate(fresh):
        col.upsert([f"new{i}"], v[None, :])
        assert col.search(v, 1, include=[])["ids"] == [[f"new{i}"]]  # pending or not
    wait_indexed(col)
    found = col.search(fresh, 1, include=[])["ids"]
    assert found == [[f"new{i}"] for i in range(20)]
    col.close()


def test_a_deferred_batch_is_searched_exactly_while_the_indexer_works(tmp_path: Path) -> None:
    col = hnsw(tmp_path / "c", dim=96)
    col.upsert([str(i) for i in range(2000)], vectors(2000, 96))
    batch = vectors(200, 96, seed=9)  # small enough to be left to the indexer
    col.upsert([f"n{i}" for i in range(200)], batch)
    assert col.stats()["index_pending"] > 0
    assert col.search(batch, 1, include=[])["ids"] == [[f"n{i}"] for i in range(200)]
    wait_indexed(col)
    assert col.search(batch, 1, include=[])["ids"] == [[f"n{i}"] for i in range(200)]
    col.close()


def test_pending_vectors_obey_filters_and_replacements(tmp_path: Path) -> None:
    col = hnsw(tmp_path / "c")
    col.upsert([str(i) for i in range(2000)], vectors(2000), [{"g": i % 2} for i in range(2000)])
    probe = vectors(1, seed=5)
    col.upsert(["p"], probe, [{"g": 1}])
    assert col.search(probe, 1, where={"g": 0}, include=[])["ids"][0][0] != "p"
    assert col.search(probe, 1, where={"g": 1}, include=[])["ids"] == [["p"]]
    col.upsert(["p"], -probe, [{"g": 1}])  # replaced before (or after) its insertion
    assert col.search(probe, 1, include=[])["ids"][0][0] != "p"
    col.close()


def test_a_snapshot_taken_with_pending_vectors_reopens_fully_indexed(tmp_path: Path) -> None:
    path = tmp_path / "c"
    col = hnsw(path)
    col.upsert([str(i) for i in range(1500)], vectors(1500))
    tail = vectors(30, seed=2)
    for i, v in enumerate(tail):
        col.upsert([f"t{i}"], v[None, :])
    col.snapshot()
    col.close()  # stops the indexer; whatever was pending is in the snapshot's vectors
    col = Collection.open(str(path))
    assert col.stats()["index_pending"] == 0
    assert col.count() == 1530
    assert col.search(tail, 1, include=[])["ids"] == [[f"t{i}"] for i in range(30)]
    col.close()


def test_upsert_without_waiting_applies_when_free_and_refuses_behind_a_writer(
    tmp_path: Path,
) -> None:
    col = hnsw(tmp_path / "c", dim=64)
    col.upsert([str(i) for i in range(1200)], vectors(1200, 64))
    wait_indexed(col)
    assert col.upsert(["quick"], vectors(1, 64, seed=3), wait=False) is True
    assert col.get(["quick"], include=[])["ids"] == ["quick"]
    with pytest.raises(ValueError, match="NaN"):
        col.upsert(["bad"], np.full((1, 64), np.nan, dtype=np.float32), wait=False)

    # A big batch holds the writer lock for a while: a non-waiting write must not queue behind it.
    big = vectors(6000, 64, seed=4)
    writer = threading.Thread(target=col.upsert, args=([f"b{i}" for i in range(6000)], big))
    writer.start()
    deadline = time.monotonic() + 5
    refused = False
    while writer.is_alive() and time.monotonic() < deadline and not refused:
        t0 = time.perf_counter()
        applied = col.upsert(["during"], vectors(1, 64, seed=6), wait=False)
        assert time.perf_counter() - t0 < 0.05, "a non-waiting write waited"
        refused = not applied
    writer.join()
    assert refused, "the big write ended before a refusal could be observed"
    during = len(col.get(["during"], include=[])["ids"])  # applied on some try, or never
    assert col.count() == 1200 + 1 + 6000 + during
    col.close()


def test_closing_with_pending_vectors_loses_nothing_that_was_logged(tmp_path: Path) -> None:
    path = tmp_path / "c"
    col = Collection.create(str(path), 32, metric="l2", index={"type": "hnsw"}, fsync="always")
    col.upsert([str(i) for i in range(1500)], vectors(1500))
    for i, v in enumerate(vectors(40, seed=7)):
        col.upsert([f"t{i}"], v[None, :])
    col.close()
    col = Collection.open(str(path))
    assert col.count() == 1540 and col.stats()["index_pending"] == 0
    col.close()
