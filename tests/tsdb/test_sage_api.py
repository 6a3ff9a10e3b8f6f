"""SAGE's sage_tsdb names: the same SageTSDBService code in-process and over gRPC, and
call_service("tsdb_service") from a LocalEnvironment pipeline."""

from __future__ import annotations

import pytest

from sage_client import InvalidArgument
from sage_client.tsdb import TSDBClient
from sage_client.tsdb_api import (
    AggregationType,
    JoinConfig,
    OutOfOrderStreamJoin,
    SageTSDB,
    SageTSDBService,
    TimeRange,
    TimeSeriesData,
    WindowAggregator,
    WindowConfig,
)
from tests.conftest import Infra, ServiceProcess


def test_sage_tsdb_add_query_and_aggregate() -> None:
    db = SageTSDB()
    try:
        for t, v in [(3000, 3.0), (1000, 1.0), (61_000, 10.0)]:
            db.add(t, v, tags={"s": "a"}, fields={"unit": "C"})
        db.add(2000, 99.0, tags={"s": "b"})
        assert db.size == 4
        points = db.query(TimeRange(0, 3000), tags={"s": "a"})  # the end is included
        assert [(p.timestamp, p.value, p.fields) for p in points] == [
            (1000, 1.0, {"unit": "C"}),
            (3000, 3.0, {"unit": "C"}),
        ]
        windows = db.query(tags={"s": "a"}, aggregation=AggregationType.AVG, window_size=60_000)
        assert [(w.timestamp, w.value) for w in windows] == [(0, 2.0), (60_000, 10.0)]
        with pytest.raises(InvalidArgument):
            db.add(float("nan"), 1.0)
        assert db.size == 4
    finally:
        db.close()


def test_window_aggregator_and_out_of_order_join() -> None:
    data = [TimeSeriesData(t, float(t)) for t in (25, 5, 15, 35)]
    out = WindowAggregator(WindowConfig(window_size_ms=20, aggregation="sum")).process(data)
    assert [(w.timestamp, w.value) for w in out] == [(0, 20.0), (20, 60.0)]
    left = [TimeSeriesData(100, 1.0, {"id": "x"}), TimeSeriesData(300, 2.0, {"id": "y"})]
    right = [TimeSeriesData(104, 5.0, {"id": "x"}), TimeSeriesData(305, 6.0, {"id": "x"})]
    join = OutOfOrderStreamJoin(JoinConfig(window_size=10, max_delay=50, join_key="id"))
    pairs = join.process(left, right)
    assert [(a.timestamp, b.timestamp) for a, b in pairs] == [(100, 104)]


def _exercise(svc: SageTSDBService) -> None:
    svc.reset()
    assert svc.add_batch([0, 30_000, 60_000], [1.0, 3.0, 5.0], [{"h": "a"}] * 3) == 3
    svc.add(90_000, 7.0, tags={"h": "a"})
    rows = svc.query(0, 60_000, tags={"h": "a"})  # both ends included, as in SAGE
    assert [r["value"] for r in rows] == [1.0, 3.0, 5.0]
    assert [r["value"] for r in svc.query(0, 59_999, tags={"h": "a"})] == [1.0, 3.0]
    agg = svc.window_aggregate(0, 120_000, window_size=60_000, aggregation="avg")
    assert [(r["window_start"], r["value"]) for r in agg] == [(0, 2.0), (60_000, 6.0)]
    joined = svc.stream_join(
        [{"timestamp": 10, "tags": {"k": "1"}}],
        [{"timestamp": 12, "tags": {"k": "1"}}, {"timestamp": 13, "tags": {"k": "2"}}],
        window_size=5,
        join_key="k",
    )
    assert [(j["left"]["timestamp"], j["right"]["timestamp"]) for j in joined] == [(10, 12)]
    assert svc.stats()["points"] == 4


def test_the_same_service_code_in_process_and_over_grpc(tsdb_service: ServiceProcess) -> None:
    local = SageTSDBService()
    try:
        _exercise(local)
    finally:
        local.close()
    remote = SageTSDBService(client=TSDBClient(address=tsdb_service.address))
    try:
        _exercise(remote)
    finally:
        remote.close()


class _Store:
    """A pipeline function, the same code in both tests below."""

    @staticmethod
    def build() -> type:
        from sage_client import MapFunction

        class Store(MapFunction):
            def execute(self, t: int) -> int:
                tsdb = self.call_service("tsdb_service")
                tsdb.add(t, float(t), tags={"src": "pipeline"})
                return len(tsdb.query(tags={"src": "pipeline"}))

        return Store


def _run_pipeline() -> list[int]:
    from sage_client import LocalEnvironment

    results: list[int] = []
    env = LocalEnvironment("tsdb-pipeline")
    env.from_collection([1, 2, 3]).map(_Store.build()).sink(results.append)
    env.submit(autostop=True)
    return sorted(results)


def test_call_service_tsdb_service_in_a_local_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAGE_ETCD_ENDPOINTS", raising=False)
    monkeypatch.delenv("SAGE_TSDB_ADDR", raising=False)
    assert _run_pipeline() == [1, 2, 3]  # one service instance for the job


def test_call_service_tsdb_service_reaches_the_mesh(
    monkeypatch: pytest.MonkeyPatch, tsdb_service: ServiceProcess, etcd: Infra
) -> None:
    """With a mesh (etcd discovery), the same pipeline writes into the TSDB service."""
    from sage_client import channels
    from sage_client.discovery import EtcdResolver
    from sage_client.services import SEED_SERVICES

    monkeypatch.delenv("SAGE_TSDB_ADDR", raising=False)
    monkeypatch.setenv("SAGE_ETCD_ENDPOINTS", etcd.address)
    # etcd discovery as the process-wide resolver would do it, but one this test closes
    resolver = EtcdResolver([etcd.address])
    monkeypatch.setattr(channels, "default_resolver", lambda: resolver)
    made: list[SageTSDBService] = []  # the job's clients, closed after (the runtime keeps them)
    name, local, mesh = SEED_SERVICES["tsdb_service"]
    monkeypatch.setitem(
        SEED_SERVICES, "tsdb_service", (name, local, lambda: made.append(mesh()) or made[-1])
    )
    with TSDBClient(address=tsdb_service.address) as direct:
        direct.delete_series("sage_tsdb", tag_filter="src=pipeline")
        try:
            assert _run_pipeline() == [1, 2, 3]
        finally:
            for client in made:
                client.close()
            resolver.close()
        [series] = direct.query("sage_tsdb", tag_filter="src=pipeline")
    assert len(made) == 1 and made[0]._client is not None  # the mesh's, not the embedded core
    assert series.timestamps.tolist() == [1, 2, 3]
