"""The TSDB service over gRPC (discovered through etcd): writes, queries, aggregates, the
stream join, the admin-only reset, refusals without a credential or the role, and bad input
(INVALID_ARGUMENT naming the field, nothing changed)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from sage_client import InvalidArgument, PermissionDenied, Unauthenticated
from sage_client.credentials import principal_token
from sage_client.tsdb import AsyncTSDBClient, JoinBatch, TSDBClient, series_batch
from sage_proto.tsdb.v1 import tsdb_pb2, tsdb_pb2_grpc
from tests.conftest import ServiceProcess
from tests.tsdb import reference as ref


def test_write_query_and_aggregate_match_the_reference(tsdb: TSDBClient, metric: str) -> None:
    rng = np.random.default_rng(1)
    ts = rng.integers(0, 3_600_000, size=5000)
    vals = rng.normal(size=5000)
    hosts = rng.choice(["a", "b"], size=5000)
    batches = [
        series_batch(metric, ts[hosts == h], vals[hosts == h], tags={"host": h}) for h in "ab"
    ]
    result = tsdb.write(batches)
    assert (result.points_written, result.points_dropped) == (5000, 0)
    [a] = tsdb.query(metric, tag_filter="host=a", start=0, end=1_800_000)
    expected = [t for t, _ in ref.ordered(ts[hosts == "a"].tolist(), vals[hosts == "a"].tolist())]
    assert a.timestamps.tolist() == [t for t in expected if t < 1_800_000]
    groups = tsdb.window_aggregate(metric, window_size_ms=60_000, aggregation="avg")
    want = ref.tumbling(ref.ordered(ts.tolist(), vals.tolist()), 60_000, "avg")
    assert groups[0].series_count == 2
    assert groups[0].start.tolist() == list(want)
    np.testing.assert_allclose(groups[0].values, list(want.values()))
    by_host = tsdb.window_aggregate(
        metric, window_size_ms=600_000, aggregation="count", group_by=["host"]
    )
    assert [(g.group["host"], int(g.values.sum())) for g in by_host] == [
        ("a", int((hosts == "a").sum())),
        ("b", int((hosts == "b").sum())),
    ]
    assert {s.tags["host"] for s in tsdb.list_series(metric)} == {"a", "b"}


def test_retention_downsample_delete_and_stats(tsdb: TSDBClient, metric: str) -> None:
    ts = np.arange(0, 300_000, 1000)
    tsdb.write_points(metric, ts, ts / 1000.0, tags={"h": "x"})
    assert tsdb.downsample(metric, f"{metric}_1m", window_size_ms=60_000, aggregation="max") == 5
    [down] = tsdb.query(f"{metric}_1m")
    assert down.values.tolist() == [59.0, 119.0, 179.0, 239.0, 299.0]
    assert tsdb.set_retention(metric, 60_000) == 1
    [kept] = tsdb.query(metric)
    assert kept.timestamps[0] == 299_000 - 60_000
    assert tsdb.delete_series(f"{metric}_1m") == 5
    assert tsdb.query(f"{metric}_1m") == []
    stats = tsdb.stats()
    assert stats["points"] >= len(kept.timestamps) and stats["fsync"] == "group"


def test_stream_join_over_a_bidirectional_stream(tsdb: TSDBClient) -> None:
    batches = [
        JoinBatch("left", [100, 130], ["a", "b"], [1.0, 2.0], ids=[1, 2]),
        JoinBatch("right", [105, 125], ["a", "b"], [10.0, 20.0], ids=[7, 8]),
        JoinBatch("left", [300], ["a"], [3.0], ids=[3]),  # watermark 250 releases both pairs
        JoinBatch("right", [290], ["a"], [30.0], ids=[9]),  # 40 ms late: within max_delay
        JoinBatch("left", [120], ["a"], [4.0], ids=[4]),  # behind the watermark: late
    ]
    results = list(tsdb.stream_join(batches, window_size_ms=20, max_delay_ms=50))
    pairs = [
        (lt, rt, k, li, ri)
        for r in results
        for lt, rt, k, li, ri in zip(
            r.left_ts.tolist(),
            r.right_ts.tolist(),
            r.keys,
            r.left_ids.tolist(),
            r.right_ids.tolist(),
            strict=True,
        )
    ]
    assert pairs == [(100, 105, "a", 1, 7), (130, 125, "b", 2, 8), (300, 290, "a", 3, 9)]
    assert results[-1].late_events == 1


async def test_the_asyncio_client_reads_the_same_data(tsdb_service: ServiceProcess) -> None:
    async with AsyncTSDBClient(address=tsdb_service.address) as client:
        await client.write_points("async_m", [3, 1, 2], [30.0, 10.0, 20.0])
        [s] = await client.query("async_m")
        assert s.timestamps.tolist() == [1, 2, 3]
        pairs = [
            p
            async for p in client.stream_join(
                [JoinBatch("left", [1], ["k"], [1.0])], window_size_ms=5
            )
        ]
        assert sum(len(p) for p in pairs) == 0


def _raw_stub(
    service: ServiceProcess, token: str | None
) -> tuple[grpc.Channel, tsdb_pb2_grpc.TSDBServiceStub]:
    channel = grpc.insecure_channel(service.address)
    return channel, tsdb_pb2_grpc.TSDBServiceStub(channel)


def test_a_call_without_a_credential_is_unauthenticated(tsdb_service: ServiceProcess) -> None:
    channel, stub = _raw_stub(tsdb_service, None)
    with channel, pytest.raises(grpc.RpcError) as info:
        stub.Stats(tsdb_pb2.StatsRequest())
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_user_is_refused_and_reset_is_admin_only(
    tsdb_service: ServiceProcess, metric: str
) -> None:
    user = TSDBClient(address=tsdb_service.address, token=principal_token("tester"))
    service = TSDBClient(address=tsdb_service.address, token=principal_token("service"))
    with user, service:
        with pytest.raises(PermissionDenied):
            user.query(metric)
        with pytest.raises(PermissionDenied):
            user.write_points(metric, [1], [1.0])
        service.write_points(metric, [1], [1.0])
        with pytest.raises(PermissionDenied):
            service.reset()
        assert len(service.query(metric)) == 1
    with pytest.raises(Unauthenticated):
        with TSDBClient(address=tsdb_service.address, token="not-a-token") as bad:
            bad.stats()


def _write(values: list[float], ts: list[int], metric: str) -> tsdb_pb2.WriteRequest:
    return tsdb_pb2.WriteRequest(
        series=[tsdb_pb2.SeriesBatch(metric=metric, timestamps_ms=ts, values=values)]
    )


@pytest.mark.parametrize(
    ("method", "request_of", "field"),
    [
        ("Write", lambda m: _write([1.0, float("nan")], [1, 2], m), "series[0].values[1]"),
        ("Write", lambda m: _write([1.0], [1, 2], m), "series[0].values"),
        ("Write", lambda m: _write([1.0], [2**62], m), "series[0].timestamps_ms[0]"),
        (
            "Write",
            lambda m: tsdb_pb2.WriteRequest(
                series=[
                    tsdb_pb2.SeriesBatch(
                        metric=m, timestamps_ms=[1], values=[1.0], vector_dimension=3
                    )
                ]
            ),
            "series[0].vectors",
        ),
        ("Query", lambda m: tsdb_pb2.QueryRequest(metric=m, tag_filter="host=a AND"), "tag_filter"),
        ("Query", lambda m: tsdb_pb2.QueryRequest(metric=m, tag_filter="host"), "tag_filter"),
        ("Query", lambda m: tsdb_pb2.QueryRequest(metric=""), "metric"),
        (
            "Query",
            lambda m: tsdb_pb2.QueryRequest(
                metric=m, time_range=tsdb_pb2.TimeRange(start_ms=10, end_ms=5)
            ),
            "time_range",
        ),
        (
            "WindowAggregate",
            lambda m: tsdb_pb2.WindowAggregateRequest(metric=m, window_size_ms=0),
            "window_size_ms",
        ),
        (
            "WindowAggregate",
            lambda m: tsdb_pb2.WindowAggregateRequest(metric=m, window_size_ms=10, aggregation=99),
            "aggregation",
        ),
        (
            "WindowAggregate",
            lambda m: tsdb_pb2.WindowAggregateRequest(
                metric=m, window_type=tsdb_pb2.WINDOW_TYPE_SESSION
            ),
            "session_gap_ms",
        ),
        (
            "WindowAggregate",
            lambda m: tsdb_pb2.WindowAggregateRequest(
                metric=m,
                window_size_ms=1,
                interpolation=tsdb_pb2.INTERPOLATION_ZERO,
                time_range=tsdb_pb2.TimeRange(start_ms=0, end_ms=2**40),
            ),
            "window_size_ms",
        ),
        (
            "SetRetention",
            lambda m: tsdb_pb2.SetRetentionRequest(metric=m, retention_ms=-1),
            "retention_ms",
        ),
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field(
    tsdb_service: ServiceProcess, metric: str, method: str, request_of, field: str
) -> None:
    with TSDBClient(address=tsdb_service.address) as client:
        client.write_points(metric, [5, 6], [1.0, 2.0])
        before = client.stats()
        with pytest.raises(InvalidArgument) as info:
            client._ch.call(method, request_of(metric), idempotent=False)
        assert info.value.field == field, info.value.message
        assert client.stats() == before
        [s] = client.query(metric)
        assert s.values.tolist() == [1.0, 2.0]


def test_a_nan_timestamp_is_refused_before_it_leaves_the_sdk(tsdb: TSDBClient, metric: str) -> None:
    # int64 on the wire cannot carry a NaN; the SDK refuses one naming the element.
    with pytest.raises(InvalidArgument) as info:
        tsdb.write_points(metric, [1.0, float("nan")], [1.0, 2.0])
    assert info.value.field == "timestamps[1]"
    assert tsdb.query(metric) == []


def test_stream_join_refuses_a_bad_config_and_a_bad_side(tsdb: TSDBClient) -> None:
    with pytest.raises(InvalidArgument) as info:
        list(tsdb.stream_join([], window_size_ms=0))
    assert info.value.field == "config.window_size_ms"
    with pytest.raises(InvalidArgument) as info:
        list(tsdb.stream_join([JoinBatch("left", [1, 2], ["a"], [1.0, 2.0])], window_size_ms=5))
    assert info.value.field == "events.keys"


def test_cli_write_query_and_agg(tsdb_service: ServiceProcess, metric: str) -> None:
    import json
    import subprocess
    import sys

    base = [sys.executable, "-m", "sage_cli.main", "tsdb", "--address", tsdb_service.address]

    def sage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)

    wrote = sage("write", metric, "60000=4", "0=1", "30000=3", "--tag", "host=a")
    assert wrote.returncode == 0, wrote.stderr
    rows = [
        json.loads(line) for line in sage("query", metric, "--filter", "host=a").stdout.splitlines()
    ]
    assert [r["timestamp_ms"] for r in rows] == [0, 30000, 60000]
    agg = sage("agg", metric, "--window", "60000", "--agg", "sum")
    assert [json.loads(line)["value"] for line in agg.stdout.splitlines()] == [4.0, 4.0]
    bad = sage("query", metric, "--filter", "host=")
    assert bad.returncode == 1 and "tag_filter" in bad.stderr
