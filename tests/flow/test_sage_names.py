"""SAGE's sage_flow names: SageFlowService, StreamEnvironment, SimpleStreamSource, VectorRecord."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sage_native
from sage_client.dataflow.api.windows import TumblingWindow
from sage_client.flow import SageFlowService, SimpleStreamSource, StreamEnvironment, VectorRecord


def test_sageflow_service_push_run_and_sink() -> None:
    service = SageFlowService(dim=4, dtype="Float32")
    seen: list[tuple[int, float]] = []
    service.set_sink(lambda uid, ts: seen.append((uid, ts)), name="my_sink")
    for i in range(10):
        service.push(uid=i, vec=np.random.rand(4).astype(np.float32))
    assert service.run() == 10
    assert sorted(uid for uid, _ in seen) == list(range(10))
    assert all(ts > 0 for _, ts in seen)
    assert service.run() == 0  # the queue was drained
    assert isinstance(service.env, StreamEnvironment)


def test_sageflow_service_refuses_wrong_dimension_and_dtype() -> None:
    service = SageFlowService(dim=4)
    with pytest.raises(ValueError, match=r"shape \(3,\).*dimension 4"):
        service.push(1, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="dtype"):
        SageFlowService(dim=4, dtype="Int8")


def test_service_pipeline_topk_against_a_collection(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal((50, 8)).astype(np.float32)
    collection = sage_native.Collection.create(
        str(tmp_path / "c"), 8, metric="l2", index={"type": "flat"}
    )
    collection.upsert([f"d{i}" for i in range(50)], base)
    service = SageFlowService(dim=8)
    hits: list = []
    service.set_pipeline(lambda src: src.topk(collection, k=1).write_sink("hits", hits.append))
    for i in range(5):
        service.push(i, base[i * 7] + 1e-3)
    service.run()
    assert sorted((h.uid, h.ids[0]) for h in hits) == [(i, f"d{i * 7}") for i in range(5)]
    collection.close()


def test_stream_environment_runs_sources_with_windows_and_joins() -> None:
    left, right = SimpleStreamSource("left"), SimpleStreamSource("right")
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((6, 16)).astype(np.float32)
    for i in range(6):
        left.addRecord(i, float(i), vectors[i])
        right.addRecord(100 + i, float(i), vectors[i] + 1e-3)
    pairs: list = []
    records: list = []
    left.join(right, TumblingWindow(3.0), k=1).write_sink("pairs", pairs.append)
    left.write_sink_py("uids", lambda uid, ts: records.append((uid, ts)))
    env = StreamEnvironment()
    env.addStream(left)
    env.execute()
    # every left record's nearest right record in its window is its own perturbed copy
    assert sorted((m.left, m.right) for m in pairs) == [(i, 100 + i) for i in range(6)]
    assert sorted(records) == [(i, 3.0 if i < 3 else 6.0) for i in range(6)]  # uid, window end


def test_simple_stream_source_aggregate_and_dimension_check() -> None:
    source = SimpleStreamSource("s")
    for i in range(4):
        source.addRecord(i, float(i), np.full(3, float(i), np.float32))
    with pytest.raises(ValueError, match="dimension 2.*dimension 3"):
        source.addRecord(9, 9.0, [1.0, 2.0])
    out: list = []
    source.aggregate(TumblingWindow(2.0)).write_sink("agg", out.append)
    env = StreamEnvironment()
    env.addStream(source)
    env.execute()
    got = sorted((a.window.start, a.count, a.centroid.tolist()) for a in out)
    assert got == [(0.0, 2, [0.5] * 3), (2.0, 2, [2.5] * 3)]


def test_vector_record_checks_its_vector() -> None:
    record = VectorRecord("u", 1, [1, 2, 3])
    assert record.vector.dtype == np.float32 and record.dim == 3 and record.timestamp == 1.0
    with pytest.raises(ValueError, match="1-D"):
        VectorRecord("u", 1, [[1.0]])
