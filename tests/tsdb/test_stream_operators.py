"""The TSDB's DataStream operators on real records in a LocalEnvironment: the window aggregate
against the pure-Python reference, the out-of-order join against the reference join and a
model of the runtime's two-input watermark (late events dropped and sent to late_records())."""

from __future__ import annotations

import math

import cloudpickle
import numpy as np
import pytest

from sage_client import InvalidArgument, LocalEnvironment
from sage_client.tsdb_api import JoinConfig, TimeSeriesData, WindowConfig
from sage_client.tsdb_stream import tsdb_join, tsdb_join_events, tsdb_window
from tests.tsdb import reference as ref


def _points(n: int, seed: int, disorder: int) -> list[TimeSeriesData]:
    """n points of two hosts, one every 50 ms, delivered up to ``disorder`` ms out of order."""
    rng = np.random.default_rng(seed)
    ts = np.arange(n, dtype=np.int64) * 50 + 1_700_000_000_000
    arrival = np.argsort(ts + rng.integers(0, disorder + 1, size=n), kind="stable")
    values = np.round(rng.normal(size=n), 3)
    hosts = rng.integers(0, 2, size=n)
    return [TimeSeriesData(int(ts[i]), float(values[i]), {"host": f"h{hosts[i]}"}) for i in arrival]


def _run_window(points: list, config: WindowConfig, max_delay: int) -> tuple[list, list]:
    env = LocalEnvironment("tsdb-window")
    windows, late = [], []
    out = tsdb_window(env.from_collection(points), config, max_delay=max_delay, group_by=["host"])
    out.sink(windows.append)
    out.late_records().sink(late.append)
    env.submit(autostop=True)
    return windows, late


@pytest.mark.parametrize(
    ("aggregation", "percentile"),
    [("avg", 50.0), ("stddev", 50.0), ("percentile", 90.0), ("first", 50.0), ("last", 50.0)],
)
def test_tumbling_windows_match_the_reference_per_host(aggregation: str, percentile: float) -> None:
    points = _points(2000, 1, disorder=400)
    config = WindowConfig(window_size_ms=1000, aggregation=aggregation, percentile=percentile)
    windows, late = _run_window(points, config, max_delay=400)
    assert late == []
    for host in ("h0", "h1"):
        mine = [p for p in points if p.tags["host"] == host]
        want = ref.tumbling(
            ref.ordered([p.timestamp for p in mine], [p.value for p in mine]),
            1000,
            aggregation,
            percentile,
        )
        got = {w.timestamp: w.value for w in windows if w.tags == {"host": host}}
        assert got.keys() == want.keys()
        assert all(math.isclose(got[s], want[s], abs_tol=1e-9) for s in want), host
        counts = sum(w.fields["count"] for w in windows if w.tags == {"host": host})
        assert counts == len(mine)


def test_sliding_and_session_windows_match_the_reference() -> None:
    points = _points(600, 2, disorder=200)
    one_host = [TimeSeriesData(p.timestamp, p.value, {}) for p in points]
    ordered = ref.ordered([p.timestamp for p in one_host], [p.value for p in one_host])
    env = LocalEnvironment("tsdb-sliding")
    got = []
    tsdb_window(
        env.from_collection(one_host),
        WindowConfig("sliding", window_size_ms=2000, slide_interval=500, aggregation="sum"),
        max_delay=200,
    ).sink(got.append)
    env.submit(autostop=True)
    want = ref.sliding(ordered, 2000, 500, "sum")
    assert {w.timestamp: round(w.value, 6) for w in got} == {
        s: round(v, 6) for s, v in want.items()
    }
    # Sessions: bursts of points 10 ms apart, 5 s of silence between bursts, gaps of exactly
    # the session gap (100 ms) inside a burst stay in it (the TSDB's "at most gap").
    bursts = [
        TimeSeriesData(b * 5000 + o, float(b + o), {})
        for b in range(4)
        for o in (0, 10, 20, 120, 130)
    ]
    env = LocalEnvironment("tsdb-session")
    sessions = []
    tsdb_window(
        env.from_collection(bursts[::-1]),  # fully reversed: max_delay covers it
        WindowConfig("session", session_gap=100, aggregation="count"),
        max_delay=20_000,
    ).sink(sessions.append)
    env.submit(autostop=True)
    want_sessions = ref.session(
        ref.ordered([p.timestamp for p in bursts], [p.value for p in bursts]), 100, "count"
    )
    got_sessions = sorted((w.timestamp, w.fields["window_end"], w.value) for w in sessions)
    assert got_sessions == want_sessions
    assert [c for _, _, c in got_sessions] == [5.0] * 4


def test_records_behind_the_watermark_go_to_late_records_and_not_into_windows() -> None:
    on_time = [TimeSeriesData(t, 1.0, {}) for t in range(0, 10_000, 100)]
    stragglers = [TimeSeriesData(150, 100.0, {}), TimeSeriesData(4_050, 100.0, {})]
    # 150 arrives when the watermark is 5000 - 500: its window [0, 1000) has fired -> late;
    # 4050 arrives at watermark 4500, its window [4000, 5000) is still open -> counted.
    stream = on_time[:51] + stragglers + on_time[51:]
    windows, late = _run_window(stream, WindowConfig(window_size_ms=1000, aggregation="sum"), 500)
    assert [(p.timestamp, p.value) for p in late] == [(150, 100.0)]
    sums = {w.timestamp: w.value for w in windows}
    assert sums[0] == 10.0 and sums[4000] == 110.0
    assert sum(w.fields["count"] for w in windows) == len(stream) - 1


def _events(n: int, seed: int, disorder: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    base = np.sort(rng.integers(0, 30_000, size=n))
    arrival = np.argsort(base + rng.integers(0, disorder + 1, size=n), kind="stable")
    sides = rng.integers(0, 2, size=n)
    keys = rng.integers(0, 6, size=n)
    return [
        {
            "timestamp": int(base[i]),
            "value": float(i),
            "tags": {"user": f"u{keys[i]}"},
            "side": "left" if sides[i] == 0 else "right",
        }
        for i in arrival
    ]


def _late_model(events: list[dict], max_delay: int) -> list[bool]:
    """The runtime's two-input watermark, written out: per side, the largest timestamp seen
    minus max_delay; the watermark is the smaller of the two; an event is late if it is older
    than the watermark when it arrives."""
    marks = {"left": -math.inf, "right": -math.inf}
    watermark, late = -math.inf, []
    for e in events:
        late.append(e["timestamp"] < watermark)
        marks[e["side"]] = max(marks[e["side"]], e["timestamp"] - max_delay)
        watermark = max(watermark, min(marks.values()))
    return late


def _pairs_of(pairs: list) -> list[tuple[int, int, str]]:
    return [(a["timestamp"], b["timestamp"], a["tags"]["user"]) for a, b in pairs]


def _reference_pairs(events: list[dict], window: int) -> list[tuple[int, int, str]]:
    as_ref = [(e["timestamp"], e["tags"]["user"], e["value"]) for e in events]
    return ref.join(
        [r for r, e in zip(as_ref, events, strict=True) if e["side"] == "left"],
        [r for r, e in zip(as_ref, events, strict=True) if e["side"] == "right"],
        window,
    )


def test_the_join_over_one_event_stream_drops_exactly_the_late_events() -> None:
    events = _events(1500, 3, disorder=300)
    # Stragglers: copies of events re-sent 5 s later than they belong.
    for at in (400, 900, 1300):
        late_copy = dict(events[at - 200], value=-1.0)
        events.insert(at, late_copy)
    model = _late_model(events, max_delay=300)
    assert sum(model) >= 3  # the stragglers are behind the watermark (and maybe others)
    env = LocalEnvironment("tsdb-join-events")
    pairs, late = [], []
    joined = tsdb_join_events(
        env.from_collection(events),
        JoinConfig(window_size=200, max_delay=300, join_key="user"),
        side=lambda e: e["side"],
    )
    joined.sink(pairs.append)
    joined.late_records().sink(late.append)
    env.submit(autostop=True)
    assert late == [e for e, is_late in zip(events, model, strict=True) if is_late]
    on_time = [e for e, is_late in zip(events, model, strict=True) if not is_late]
    assert sorted(_pairs_of(pairs)) == sorted(_reference_pairs(on_time, 200))
    assert len(pairs) > 500
    release = [max(a["timestamp"], b["timestamp"]) for a, b in pairs]
    assert release == sorted(release)  # emitted in event-time order
    assert all(a["side"] == "left" and b["side"] == "right" for a, b in pairs)


@pytest.mark.parametrize("parallelism", [1, 2])
def test_the_join_of_two_streams_finds_every_pair(parallelism: int) -> None:
    """Two sources whose records interleave as the threads run: with each input's disorder
    within max_delay, no event can fall behind the slower input's watermark, so the pairs are
    the reference join's whatever the interleaving."""
    events = _events(1200, 4, disorder=250)
    left = [e for e in events if e["side"] == "left"]
    right = [e for e in events if e["side"] == "right"]
    env = LocalEnvironment("tsdb-join")
    pairs, late = [], []
    joined = tsdb_join(
        env.from_collection(left),
        env.from_collection(right),
        JoinConfig(window_size=150, max_delay=250, join_key="user"),
        parallelism=parallelism,
    )
    joined.sink(pairs.append)
    joined.late_records().sink(late.append)
    env.submit(autostop=True)
    assert late == []
    assert sorted(_pairs_of(pairs)) == sorted(_reference_pairs(events, 150))
    assert len(pairs) > 300


def test_bad_operator_configs_name_the_field_and_add_nothing() -> None:
    env = LocalEnvironment("tsdb-bad")
    source = env.from_collection([TimeSeriesData(1, 1.0)])
    nodes = len(env.graph.nodes)
    cases = [
        (lambda: tsdb_join(source, source, JoinConfig(window_size=0)), "window_size"),
        (lambda: tsdb_join(source, source, JoinConfig(10, max_delay=-1)), "max_delay"),
        (lambda: tsdb_window(source, WindowConfig(window_size_ms=0)), "window_size_ms"),
        (lambda: tsdb_window(source, WindowConfig(aggregation="median-ish")), "aggregation"),
        (
            lambda: tsdb_window(source, WindowConfig(percentile=101, aggregation="percentile")),
            "percentile",
        ),  # fmt: skip
        (lambda: tsdb_window(source, WindowConfig("session")), "session_gap"),
        (lambda: tsdb_window(source, WindowConfig(interpolation="linear")), "interpolation"),
    ]
    for build, field in cases:
        with pytest.raises(InvalidArgument) as info:
            build()
        assert info.value.field == field, (field, str(info.value))
        assert len(env.graph.nodes) == nodes


def test_a_nan_timestamp_in_the_stream_fails_the_job_naming_the_field() -> None:
    env = LocalEnvironment("tsdb-nan")
    tsdb_window(
        env.from_collection([TimeSeriesData(1, 1.0), TimeSeriesData(float("nan"), 1.0)]),
        WindowConfig(window_size_ms=10),
    ).sink(lambda r: None)
    with pytest.raises(InvalidArgument, match="timestamp"):
        env.submit(autostop=True)


def test_the_graphs_pickle_for_a_remote_runtime() -> None:
    env = LocalEnvironment("tsdb-pickle")
    a, b = env.from_collection([]), env.from_collection([])
    tsdb_join(a, b, JoinConfig(100, 10, "user")).sink(print)
    tsdb_window(a, WindowConfig(window_size_ms=100), group_by=["host"]).sink(print)
    graph = cloudpickle.loads(cloudpickle.dumps(env.graph))
    assert [n.name for n in graph.nodes.values()] == [n.name for n in env.graph.nodes.values()]
