"""The native time-series core against a pure-Python reference on random data: window
aggregates of every kind, out-of-order ingestion, tag filters, retention, the stream join."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sage_native import StreamJoin, TimeSeriesDB, window_aggregate_arrays
from tests.tsdb import reference as ref

AGGS = ["sum", "avg", "min", "max", "count", "first", "last", "stddev", "percentile"]


def random_points(n: int, seed: int, span: int = 600_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = rng.integers(-span // 10, span, size=n)  # negative timestamps too (before the epoch)
    return ts.astype(np.int64), rng.normal(size=n)


@pytest.fixture
def db(tmp_path: Path):
    with TimeSeriesDB(str(tmp_path / "db"), chunk_points=64) as d:
        yield d


@pytest.mark.parametrize("aggregation", AGGS)
def test_tumbling_matches_the_reference_on_out_of_order_writes(db, aggregation: str) -> None:
    ts, vals = random_points(3000, seed=len(aggregation))
    for lo in range(0, len(ts), 250):  # shuffled batches: most points arrive late
        db.write([{"metric": "m", "timestamps": ts[lo : lo + 250], "values": vals[lo : lo + 250]}])
    [group] = db.window_aggregate("m", window_size=7000, aggregation=aggregation, percentile=90.0)
    expected = ref.tumbling(ref.ordered(ts.tolist(), vals.tolist()), 7000, aggregation, 90.0)
    assert group["start"].tolist() == list(expected)
    np.testing.assert_allclose(group["value"], list(expected.values()), rtol=1e-9, atol=1e-9)
    assert group["count"].sum() == len(ts)


def test_raw_points_come_back_in_time_order(db) -> None:
    ts, vals = random_points(2000, seed=3)
    db.write([{"metric": "m", "tags": {"h": "a"}, "timestamps": ts, "values": vals}])
    [series] = db.query("m")["series"]
    expected = ref.ordered(ts.tolist(), vals.tolist())
    assert series["timestamps"].tolist() == [t for t, _ in expected]
    assert series["values"].tolist() == [v for _, v in expected]
    window = db.query("m", start=0, end=1000)["series"][0]["timestamps"]
    assert window.tolist() == [t for t, _ in expected if 0 <= t < 1000]


@pytest.mark.parametrize("aggregation", ["avg", "max", "count"])
def test_sliding_and_session_windows_match_the_reference(aggregation: str) -> None:
    ts, vals = random_points(400, seed=11, span=100_000)
    points = ref.ordered(ts.tolist(), vals.tolist())
    got = window_aggregate_arrays(
        ts, vals, "sliding", window_size=5000, slide=2000, aggregation=aggregation
    )
    expected = ref.sliding(points, 5000, 2000, aggregation)
    assert got["start"].tolist() == list(expected)
    np.testing.assert_allclose(got["value"], list(expected.values()))
    got = window_aggregate_arrays(ts, vals, "session", session_gap=300, aggregation=aggregation)
    sessions = ref.session(points, 300, aggregation)
    assert list(zip(got["start"].tolist(), got["end"].tolist(), strict=True)) == [
        (s, e) for s, e, _ in sessions
    ]
    np.testing.assert_allclose(got["value"], [v for _, _, v in sessions])


def test_interpolation_fills_the_empty_windows_of_the_range() -> None:
    ts = np.array([0, 10, 40], dtype=np.int64)
    vals = np.array([1.0, 3.0, 9.0])
    kw = {"window_size": 10, "aggregation": "avg", "start": -10, "end": 60}
    starts = list(range(-10, 60, 10))
    zero = window_aggregate_arrays(ts, vals, interpolation="zero", **kw)
    assert zero["start"].tolist() == starts
    assert zero["value"].tolist() == [0, 1, 3, 0, 0, 9, 0]
    assert zero["count"].tolist() == [0, 1, 1, 0, 0, 1, 0]
    linear = window_aggregate_arrays(ts, vals, interpolation="linear", **kw)
    assert linear["start"].tolist() == [0, 10, 20, 30, 40]
    np.testing.assert_allclose(linear["value"], [1, 3, 5, 7, 9])
    forward = window_aggregate_arrays(ts, vals, interpolation="forward", **kw)
    assert forward["value"].tolist() == [1, 3, 3, 3, 9, 9]
    backward = window_aggregate_arrays(ts, vals, interpolation="backward", **kw)
    assert backward["value"].tolist() == [1, 1, 3, 9, 9, 9]
    none = window_aggregate_arrays(ts, vals, **kw)
    assert none["start"].tolist() == [0, 10, 40]


def test_tag_filter_group_by_and_limit(db) -> None:
    for host, region in [("a", "eu"), ("b", "eu"), ("c", "us")]:
        db.write(
            [
                {
                    "metric": "cpu",
                    "tags": {"host": host, "region": region},
                    "timestamps": [0, 60_000, 120_000],
                    "values": [1.0, 2.0, 3.0],
                }
            ]
        )
    assert len(db.query("cpu", tag_filter="region=eu AND host!=a")["series"]) == 1
    assert len(db.query("cpu", tag_filter="host=c OR (region=eu AND host=a)")["series"]) == 2
    groups = db.window_aggregate("cpu", window_size=60_000, aggregation="sum", group_by=["region"])
    assert [(g["group"], g["series"], g["value"].tolist()) for g in groups] == [
        ({"region": "eu"}, 2, [2.0, 4.0, 6.0]),
        ({"region": "us"}, 1, [1.0, 2.0, 3.0]),
    ]
    [limited] = db.window_aggregate("cpu", window_size=60_000, limit=2)
    assert limited["start"].tolist() == [0, 60_000]
    result = db.query("cpu", limit=4)
    assert sum(len(s["timestamps"]) for s in result["series"]) == 4 and result["truncated"]


def test_retention_downsampling_and_deletion(db) -> None:
    ts = np.arange(0, 600_000, 1000, dtype=np.int64)
    db.write([{"metric": "cpu", "tags": {"h": "a"}, "timestamps": ts, "values": ts / 1000.0}])
    assert db.downsample("cpu", window_size=60_000, aggregation="max", dest_metric="cpu_1m") == 10
    [down] = db.query("cpu_1m")["series"]
    assert down["values"].tolist() == [59.0 + 60 * k for k in range(10)]
    assert db.set_retention("cpu", retention_ms=100_000) == 1
    [kept] = db.query("cpu")["series"]
    assert kept["timestamps"][0] == 599_000 - 100_000
    # A late point behind the horizon is dropped, and counted.
    assert (
        db.write([{"metric": "cpu", "tags": {"h": "a"}, "timestamps": [0], "values": [1]}])[
            "dropped"
        ]
        == 1
    )
    assert db.delete_points("cpu", start=550_000) == 50
    assert db.delete_points("cpu_1m") == 10
    assert [s["metric"] for s in db.list_series()] == ["cpu"]


def test_compaction_repacks_snapshots_and_empties_the_log(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    rng = np.random.default_rng(9)
    ts = rng.permutation(np.arange(0, 20_000, 10, dtype=np.int64))  # fully out of order
    with TimeSeriesDB(path, "always", chunk_points=64) as db:
        for part in np.array_split(ts, 40):
            db.write([{"metric": "m", "timestamps": part, "values": part * 2.0}])
        db.set_retention("m", retention_ms=10_000)
        before = db.stats()
        assert before["wal_bytes"] > 0 and before["late_points"] > 0
        db.compact()
        after = db.stats()
        assert after["wal_bytes"] < before["wal_bytes"] // 10  # the snapshot replaced the log
        assert after["snapshot_seq"] == after["seq"]
        assert after["chunks"] <= before["chunks"]
        assert after["points"] == before["points"] == 1001  # 9_990 .. 19_990 (retention)
    with TimeSeriesDB(path) as db:  # reopened from the snapshot alone
        [s] = db.query("m")["series"]
    assert s["timestamps"].tolist() == list(range(9_990, 20_000, 10))
    np.testing.assert_array_equal(s["values"], s["timestamps"] * 2.0)


def test_vectors_and_fields_round_trip(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    with TimeSeriesDB(path, "always") as db:
        db.write(
            [
                {
                    "metric": "emb",
                    "timestamps": [30, 10, 20, 40],
                    "values": [3, 1, 2, 4],
                    "vectors": vectors,
                    "fields": ['{"i": 3}', "", '{"i": 2}', ""],
                }
            ]
        )
        db.snapshot()
    with TimeSeriesDB(path) as db:
        [s] = db.query("emb", vectors=True, fields=True)["series"]
    assert s["timestamps"].tolist() == [10, 20, 30, 40]
    np.testing.assert_array_equal(s["vectors"], vectors[[1, 2, 0, 3]])
    assert s["fields"] == ["", '{"i": 2}', '{"i": 3}', ""]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda db: db.query("m", tag_filter="host=a AND"), "tag_filter"),
        (lambda db: db.window_aggregate("m", window_size=0), "window_size"),
        (lambda db: db.window_aggregate("m", window_size=10, aggregation="mode"), "aggregation"),
        (
            lambda db: db.write(
                [{"metric": "m", "timestamps": [1.0, float("nan")], "values": [1, 2]}]
            ),
            "series[0].timestamps[1]",
        ),
        (
            lambda db: db.write(
                [{"metric": "m", "timestamps": [1, 2], "values": [1, float("inf")]}]
            ),
            "series[0].values[1]",
        ),
        (
            lambda db: db.write([{"metric": "", "timestamps": [1], "values": [1]}]),
            "series[0].metric",
        ),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(db, call, field: str) -> None:
    db.write([{"metric": "m", "timestamps": [5], "values": [1.0]}])
    before = db.stats()
    with pytest.raises(ValueError) as info:
        call(db)
    assert str(info.value).startswith(field + ":"), str(info.value)
    assert db.stats() == before


def test_stream_join_matches_the_reference_and_releases_in_order() -> None:
    rng = np.random.default_rng(5)
    n = 600
    keys = [f"k{int(k)}" for k in rng.integers(0, 8, size=2 * n)]
    base = np.sort(rng.integers(0, 60_000, size=2 * n))
    # Disorder bounded by max_delay: each event arrives up to 400 ms after later ones.
    arrival = np.argsort(base + rng.integers(0, 400, size=2 * n), kind="stable")
    sides = rng.integers(0, 2, size=2 * n)
    join = StreamJoin(window_size=250, max_delay=400)
    got: list[tuple[int, int, str]] = []
    for i in arrival:
        side = "left" if sides[i] == 0 else "right"
        out = join.push_batch(side, [int(base[i])], [keys[i]], [0.0])
        assert out["late"] == 0
        got.extend(zip(out["left_ts"].tolist(), out["right_ts"].tolist(), out["key"], strict=True))
    out = join.flush()
    got.extend(zip(out["left_ts"].tolist(), out["right_ts"].tolist(), out["key"], strict=True))
    left = [(int(base[i]), keys[i], 0.0) for i in range(2 * n) if sides[i] == 0]
    right = [(int(base[i]), keys[i], 0.0) for i in range(2 * n) if sides[i] == 1]
    assert sorted(got) == sorted(ref.join(left, right, 250))
    release = [max(lt, rt) for lt, rt, _ in got]
    assert release == sorted(release)


def test_stream_join_drops_events_behind_the_watermark() -> None:
    join = StreamJoin(window_size=10, max_delay=5)
    join.push_batch("left", [100, 200], ["a", "a"], [1.0, 2.0])
    out = join.push_batch("right", [105, 198], ["a", "a"], [3.0, 4.0])
    assert out["late"] == 1 and join.late == 1  # 105 < watermark 195
    assert join.watermark == 195
    rest = join.flush()
    assert list(zip(rest["left_ts"].tolist(), rest["right_ts"].tolist(), strict=True)) == [
        (200, 198)
    ]
