"""The vector operators wired into the DataStream runtime, end to end on LocalEnvironment."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import sage_native
from sage_client import LocalEnvironment
from sage_client.dataflow.api.windows import SlidingWindow, TumblingWindow
from sage_client.flow import (
    JoinMatch,
    Neighbours,
    VectorRecord,
    WindowAggregate,
    knn_join,
    similarity_join,
    stream_topk,
    vector_window,
)

DIM = 32


def _records(
    prefix: str, n: int, seed: int, dim: int = DIM, step: float = 1.0
) -> list[VectorRecord]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return [VectorRecord(f"{prefix}{i}", i * step, vectors[i]) for i in range(n)]


def _run(build) -> list:  # noqa: ANN001
    out: list = []
    env = LocalEnvironment("flow-test")
    build(env).sink(out.append)
    env.submit(autostop=True)
    env.close()
    return out


def _expected_join(lefts, rights, k: int, metric: str = "cosine") -> set[tuple[str, str]]:  # noqa: ANN001
    a = np.stack([r.vector for r in lefts]).astype(np.float64)
    b = np.stack([r.vector for r in rights]).astype(np.float64)
    if metric == "cosine":
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b /= np.linalg.norm(b, axis=1, keepdims=True)
    top = np.argsort(-(a @ b.T), axis=1)[:, :k]
    return {(lefts[i].uid, rights[j].uid) for i in range(len(lefts)) for j in top[i]}


def test_similarity_join_by_event_time_equals_numpy_per_window() -> None:
    lefts, rights = _records("l", 60, 1), _records("r", 90, 2, step=60 / 90)
    out = _run(
        lambda env: similarity_join(
            env.from_batch(lefts), env.from_batch(rights), TumblingWindow(20.0), k=3
        )
    )
    assert all(isinstance(m, JoinMatch) for m in out)
    by_window: dict[tuple[float, float], set] = defaultdict(set)
    for m in out:
        by_window[(m.window.start, m.window.end)].add((m.left, m.right))
    assert sorted(by_window) == [(0.0, 20.0), (20.0, 40.0), (40.0, 60.0)]
    for (start, end), pairs in by_window.items():
        lw = [r for r in lefts if start <= r.timestamp < end]
        rw = [r for r in rights if start <= r.timestamp < end]
        assert pairs == _expected_join(lw, rw, 3)


def test_sliding_windows_put_a_record_in_every_window_it_falls_in() -> None:
    lefts, rights = _records("l", 40, 3), _records("r", 40, 4)
    out = _run(
        lambda env: similarity_join(
            env.from_batch(lefts), env.from_batch(rights), SlidingWindow(20.0, 10.0), k=1
        )
    )
    windows = defaultdict(list)
    for m in out:
        windows[m.window.start].append(m)
    # windows start at -10, 0, 10, 20, 30; each left record is matched once per window
    assert sorted(windows) == [-10.0, 0.0, 10.0, 20.0, 30.0]
    assert [len(windows[s]) for s in sorted(windows)] == [10, 20, 20, 20, 10]
    for start, matches in windows.items():
        lw = [r for r in lefts if start <= r.timestamp < start + 20]
        rw = [r for r in rights if start <= r.timestamp < start + 20]
        assert {(m.left, m.right) for m in matches} == _expected_join(lw, rw, 1)


def test_count_windows_and_threshold_join() -> None:
    lefts, rights = _records("l", 30, 5), _records("r", 30, 6)
    # count windows count both inputs' records together: 20 records per window
    out = _run(
        lambda env: similarity_join(
            env.from_batch(lefts),
            env.from_batch(rights),
            TumblingWindow(20),
            time="count",
            threshold=-1.0,
            metric="ip",
        )
    )
    # ip >= -1 keeps nearly every pair; every window pairs its lefts with its rights
    assert out and {m.window.end - m.window.start for m in out} <= {20.0}
    assert all(m.score >= -1.0 for m in out)


def test_empty_window_side_emits_nothing() -> None:
    lefts = _records("l", 10, 7)  # timestamps 0..9
    rights = [VectorRecord("r", 25.0, np.ones(DIM, np.float32))]  # only in window [20, 30)
    out = _run(
        lambda env: similarity_join(
            env.from_batch(lefts), env.from_batch(rights), TumblingWindow(10.0), k=2
        )
    )
    assert out == []


def test_hnsw_join_through_the_runtime() -> None:
    lefts, rights = _records("l", 50, 8), _records("r", 400, 9, step=50 / 400)
    out = _run(
        lambda env: similarity_join(
            env.from_batch(lefts),
            env.from_batch(rights),
            TumblingWindow(100.0),
            k=5,
            method="hnsw",
            metric="l2",
        )
    )
    assert len(out) == 50 * 5
    a = np.stack([r.vector for r in lefts])
    b = np.stack([r.vector for r in rights])
    exact, _ = knn_join(a, b, 5, "l2")
    want = {(lefts[i].uid, rights[j].uid) for i in range(50) for j in exact[i]}
    got = {(m.left, m.right) for m in out}
    assert len(want & got) / len(want) >= 0.9


def test_window_aggregate_counts_and_centroids() -> None:
    records = _records("x", 25, 10)
    out = _run(lambda env: vector_window(env.from_batch(records), TumblingWindow(10.0)).aggregate())
    assert all(isinstance(a, WindowAggregate) for a in out)
    assert [(a.window.start, a.count) for a in sorted(out, key=lambda a: a.window.start)] == [
        (0.0, 10),
        (10.0, 10),
        (20.0, 5),
    ]
    for agg in out:
        members = [r.vector for r in records if agg.window.start <= r.timestamp < agg.window.end]
        np.testing.assert_allclose(agg.centroid, np.mean(members, axis=0), rtol=1e-5, atol=1e-6)


def test_count_window_aggregate_fires_partial_window_at_end() -> None:
    records = _records("x", 7, 11)
    out = _run(
        lambda env: vector_window(
            env.from_batch(records), TumblingWindow(3), time="count"
        ).aggregate()
    )
    assert sorted(a.count for a in out) == [1, 3, 3]


def test_streaming_topk_against_a_native_collection(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    base = rng.standard_normal((300, DIM)).astype(np.float32)
    collection = sage_native.Collection.create(
        str(tmp_path / "c"), DIM, metric="cosine", index={"type": "flat"}
    )
    collection.upsert(
        [f"d{i}" for i in range(300)], base, documents=[f"doc {i}" for i in range(300)]
    )
    queries = _records("q", 50, 13)
    out = _run(
        lambda env: stream_topk(
            env.from_batch(queries), collection, k=4, batch_size=16, include_documents=True
        )
    )
    assert sorted(n.uid for n in out) == sorted(q.uid for q in queries)
    expected = collection.search(np.stack([q.vector for q in queries]), k=4, include=("documents",))
    by_uid = {n.uid: n for n in out}
    for i, q in enumerate(queries):
        got = by_uid[q.uid]
        assert isinstance(got, Neighbours)
        assert got.ids == expected["ids"][i] and got.documents == expected["documents"][i]
        np.testing.assert_allclose(got.scores, expected["scores"][i], rtol=1e-6)
    collection.close()


def test_dimension_mismatch_fails_the_job_naming_both_dimensions() -> None:
    lefts = _records("l", 5, 14)
    rights = _records("r", 5, 15, dim=DIM + 3)
    with pytest.raises(ValueError, match=f"dimension {DIM + 3}.*dimension {DIM}"):
        _run(
            lambda env: similarity_join(
                env.from_batch(lefts), env.from_batch(rights), TumblingWindow(10.0), k=1
            )
        )
    mixed = _records("m", 3, 16) + _records("n", 1, 17, dim=DIM + 1)
    with pytest.raises(ValueError, match="dimension mismatch"):
        _run(lambda env: vector_window(env.from_batch(mixed), TumblingWindow(100.0)).aggregate())


def test_bad_join_arguments_are_refused() -> None:
    env = LocalEnvironment("bad")
    s = env.from_batch(_records("l", 2, 18))
    with pytest.raises(ValueError, match="exactly one of k= or threshold="):
        similarity_join(s, s, TumblingWindow(1.0))
    with pytest.raises(ValueError, match="method"):
        similarity_join(s, s, TumblingWindow(1.0), k=1, method="ivf")
    with pytest.raises(ValueError, match="metric"):
        similarity_join(s, s, TumblingWindow(1.0), k=1, metric="dot")
    with pytest.raises(TypeError, match="top-k needs"):
        vector_window(s, TumblingWindow(1.0)).topk(object())
    env.close()


def test_join_watermark_waits_for_the_slower_input() -> None:
    # The runtime's window operator with per-input watermarks (what similarity_join uses): a
    # window fires only once *both* inputs have passed its end.
    from sage_client.dataflow.api.windows import EVENT_TIME, WindowOptions
    from sage_client.dataflow.runtime.context import RuntimeContext
    from sage_client.dataflow.runtime.state import MemoryStateBackend
    from sage_client.dataflow.runtime.windowing import WindowOperator

    ctx = RuntimeContext(
        job_name="j",
        operator_name="w",
        parallel_index=0,
        parallelism=1,
        services=None,
        state=MemoryStateBackend(),
    )
    options = WindowOptions(
        TumblingWindow(10.0), EVENT_TIME, lambda t: t[1], 0.0, side=lambda t: t[0], sides=2
    )
    op = WindowOperator(lambda key, window, records: [sorted(records)], options, "apply", ctx)
    out, _ = op.process([(0, 1.0), (0, 25.0)], [0, 0])  # the left input runs ahead
    assert out == []  # the right input has not passed 10 yet: nothing fires
    out, _ = op.process([(1, 2.0), (1, 12.0)], [0, 0])  # a late-looking right record is not late
    assert out == [[(0, 1.0), (1, 2.0)]]  # [0, 10) fires with both sides
    assert op.late_count == 0
    out, _ = op.finish()
    assert sorted(out) == [[(0, 25.0)], [(1, 12.0)]]
