"""Searches run alongside a writer without errors or torn results."""

import threading
from pathlib import Path

import numpy as np

from sage_native import Collection

DIM = 32


def test_concurrent_searches_alongside_one_writer(tmp_path: Path) -> None:
    col = Collection.create(
        str(tmp_path / "c"), DIM, metric="l2", index={"type": "hnsw", "M": 8}, fsync="none"
    )
    rng = np.random.default_rng(0)
    col.upsert(
        [f"seed{i}" for i in range(500)],
        rng.normal(size=(500, DIM)).astype(np.float32),
        metadatas=[{"g": i % 5} for i in range(500)],
    )
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader(seed: int) -> None:
        r = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                res = col.search(
                    r.normal(size=(4, DIM)).astype(np.float32),
                    k=5,
                    where={"g": {"$ne": 9}},
                    include=["metadatas"],
                )
                assert all(len(row) == 5 for row in res["ids"])
        except BaseException as e:  # surfaced to the main thread below
            errors.append(e)

    readers = [threading.Thread(target=reader, args=(s,)) for s in range(3)]
    for t in readers:
        t.start()
    for batch in range(15):
        ids = [f"w{batch}-{i}" for i in range(50)]
        col.upsert(
            ids, rng.normal(size=(50, DIM)).astype(np.float32), metadatas=[{"g": batch % 5}] * 50
        )
        col.delete(ids=ids[:10])
    col.compact()
    stop.set()
    for t in readers:
        t.join()
    assert not errors, errors[0]
    assert col.count() == 500 + 15 * 40
    col.close()
