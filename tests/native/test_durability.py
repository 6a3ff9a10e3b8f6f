"""Write-ahead log, snapshots, compaction and crash recovery."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sage_native import Collection

DIM = 8
WRITER = Path(__file__).with_name("crash_writer.py")


def vecs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


@pytest.mark.parametrize("fsync", ["always", "group", "none"])
@pytest.mark.parametrize("index", ["flat", "hnsw", "ivf"])
def test_reopen_restores_every_write(tmp_path: Path, fsync: str, index: str) -> None:
    path = str(tmp_path / "c")
    spec = {"type": index, "nlist": 4, "train_min": 50} if index == "ivf" else {"type": index}
    with Collection.create(path, DIM, metric="l2", index=spec, fsync=fsync) as c:
        c.upsert(
            [str(i) for i in range(100)],
            vecs(100),
            metadatas=[{"i": i} for i in range(100)],
            documents=[f"doc {i}" for i in range(100)],
        )
        c.delete(where={"i": {"$lt": 10}})
        c.upsert(["50"], vecs(1, seed=9), metadatas=[{"i": -1}])
        before = c.search(vecs(5, seed=3), k=5, include=["metadatas"])
    with Collection.open(path) as c:
        assert c.count() == 90
        assert c.get(["5"])["ids"] == []
        assert c.get(["50"])["metadatas"] == [{"i": -1}]
        after = c.search(vecs(5, seed=3), k=5, include=["metadatas"])
        assert after["ids"] == before["ids"]
        assert c.search_text(["doc"], k=200, include=[])["ids"][0].__len__() == 89


def test_snapshot_then_more_writes_then_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "c")
    with Collection.create(path, DIM, metric="l2", index={"type": "hnsw"}) as c:
        c.upsert([f"a{i}" for i in range(50)], vecs(50))
        c.snapshot()
        assert c.stats()["wal_bytes"] == 0
        c.upsert([f"b{i}" for i in range(50)], vecs(50, seed=1))
        c.delete(ids=["a0"])
    with Collection.open(path) as c:
        assert c.count() == 99
        assert c.stats()["snapshot_seq"] == 1
        assert c.search(vecs(50, seed=1)[7:8], k=1, include=[])["ids"] == [["b7"]]


def test_compaction_drops_tombstones_and_keeps_results(tmp_path: Path) -> None:
    path = str(tmp_path / "c")
    with Collection.create(path, DIM, metric="l2", index={"type": "hnsw"}) as c:
        c.upsert(
            [str(i) for i in range(200)], vecs(200), documents=[f"word{i}" for i in range(200)]
        )
        c.delete(ids=[str(i) for i in range(0, 200, 2)])
        q = vecs(200)[1::2][:10]
        before = c.search(q, k=3, include=[])["ids"]
        c.compact()
        stats = c.stats()
        assert stats["slots"] == stats["count"] == 100
        assert c.search(q, k=3, include=[])["ids"] == before
        assert c.search_text(["word3"], k=1, include=[])["ids"] == [["3"]]
    with Collection.open(path) as c:
        assert c.count() == 100
        assert c.search(q, k=3, include=[])["ids"] == before
        assert c.search_text(["word5"], k=1, include=[])["ids"] == [["5"]]  # BM25 from the snapshot
        assert c.search_text(["word4"], k=1, include=[])["ids"] == [[]]  # deleted before compaction


def test_torn_last_record_is_dropped_and_earlier_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / "c"
    with Collection.create(str(path), DIM, fsync="always") as c:
        c.upsert(["a"], vecs(1))
        c.upsert(["b"], vecs(1, seed=1))
    log = path / "wal.log"
    with open(log, "r+b") as f:
        f.truncate(log.stat().st_size - 3)
    with Collection.open(str(path)) as c:
        assert c.get(["a", "b"], include=[])["ids"] == ["a"]
        assert c.stats()["dropped_log_bytes"] > 0
        c.upsert(["c"], vecs(1, seed=2))
    with Collection.open(str(path)) as c:
        assert sorted(c.get(include=[])["ids"]) == ["a", "c"]


def test_replay_is_idempotent_across_repeated_opens(tmp_path: Path) -> None:
    path = str(tmp_path / "c")
    with Collection.create(path, DIM) as c:
        c.upsert(["a", "b"], vecs(2))
        c.upsert(["a"], vecs(1, seed=4))
    for _ in range(3):
        with Collection.open(path) as c:
            assert c.count() == 2
            np.testing.assert_allclose(
                c.get(["a"], include=["vectors"])["vectors"][0],
                vecs(1, seed=4)[0] / np.linalg.norm(vecs(1, seed=4)[0]),
                rtol=1e-6,
            )


def test_kill_9_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    path = str(tmp_path / "c")
    Collection.create(
        path, DIM, metric="l2", index={"type": "hnsw", "M": 8}, fsync="always"
    ).close()
    rng = random.Random(1234)
    acknowledged: list[str] = []
    for round_no in range(20):
        child = subprocess.Popen(
            [sys.executable, str(WRITER), path, f"r{round_no}"], stdout=subprocess.PIPE, text=True
        )
        # Wait until the child writes, then kill it at a random moment.
        first = child.stdout.readline()
        assert first, "writer exited without writing"
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()
        child.wait()
        lines = [first.strip()] + [ln for ln in rest.splitlines() if ln]
        # A line cut mid-write was never fully reported; only whole lines count.
        if not rest.endswith("\n") and rest:
            lines = lines[:-1]
        acknowledged += lines
        with Collection.open(path) as c:
            found = set(c.get(acknowledged, include=[])["ids"])
            missing = [i for i in acknowledged if i not in found]
            assert not missing, (
                f"round {round_no}: lost {len(missing)} acknowledged ids, e.g. {missing[:3]}"
            )
    assert len(acknowledged) > 20
