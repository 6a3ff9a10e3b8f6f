import time

import pytest

from sage_client import (
    AggregateFunction,
    LocalEnvironment,
    SessionWindow,
    SlidingWindow,
    SourceFunction,
    TumblingWindow,
    Window,
)

from .conftest import Collect


def _run(env: LocalEnvironment, records, window, *, mode="reduce", fn=None, **options):
    out: list = []
    late: list = []
    keyed = env.from_batch(records).keyby(lambda r: r[0])
    windowed = keyed.window(window, **options)
    if mode == "reduce":
        result = windowed.reduce(fn or (lambda a, b: (a[0], a[1] + b[1], max(a[2], b[2]))))
    elif mode == "apply":
        result = windowed.apply(fn)
    else:
        result = windowed.aggregate(fn)
    result.sink(Collect, out)
    result.late_records().sink(Collect, late)
    env.submit(autostop=True)
    return out, late


def test_tumbling_event_time_reduce(env: LocalEnvironment) -> None:
    records = [("a", 1, 0.5), ("a", 2, 1.5), ("b", 5, 2.0), ("b", 1, 9.9), ("a", 3, 12.0)]
    out, late = _run(env, records, TumblingWindow(10), timestamp=lambda r: r[2])
    assert sorted(out) == [("a", 3, 1.5), ("a", 3, 12.0), ("b", 6, 9.9)]
    assert late == []


def test_sliding_event_time_puts_a_record_in_every_overlapping_window(
    env: LocalEnvironment,
) -> None:
    records = [("k", 1, 5.0)]
    out, _ = _run(
        env,
        records,
        SlidingWindow(10, 5),
        mode="apply",
        fn=lambda key, window, rs: [(key, window, len(rs))],
        timestamp=lambda r: r[2],
    )
    assert sorted(out) == [("k", Window(0.0, 10.0), 1), ("k", Window(5.0, 15.0), 1)]


def test_session_windows_merge_records_closer_than_the_gap(env: LocalEnvironment) -> None:
    records = [("u", 1, 0.0), ("u", 1, 2.0), ("u", 1, 10.0), ("u", 1, 3.5)]
    out, _ = _run(
        env,
        records,
        SessionWindow(3),
        mode="apply",
        fn=lambda key, window, rs: [(window.start, window.end, len(rs))],
        timestamp=lambda r: r[2],
        out_of_orderness=5,
    )
    assert sorted(out) == [(0.0, 6.5, 3), (10.0, 13.0, 1)]


def test_records_behind_the_watermark_go_to_the_late_output(env: LocalEnvironment) -> None:
    records = [("a", 1, 1.0), ("a", 1, 25.0), ("a", 7, 3.0), ("a", 1, 21.0)]
    out, late = _run(env, records, TumblingWindow(10), timestamp=lambda r: r[2], out_of_orderness=4)
    assert sorted(out) == [("a", 1, 1.0), ("a", 2, 25.0)]
    assert late == [("a", 7, 3.0)]


def test_count_tumbling_window_fires_every_n_and_flushes_the_rest(env: LocalEnvironment) -> None:
    records = [("k", i, 0) for i in range(7)]
    out, _ = _run(
        env, records, TumblingWindow(3), time="count", fn=lambda a, b: (a[0], a[1] + b[1], 0)
    )
    assert out == [("k", 3, 0), ("k", 12, 0), ("k", 6, 0)]


def test_count_sliding_window_covers_the_last_size_records(env: LocalEnvironment) -> None:
    records = [("k", i, 0) for i in range(1, 6)]
    out, _ = _run(
        env,
        records,
        SlidingWindow(3, 2),
        time="count",
        mode="apply",
        fn=lambda key, window, rs: [[r[1] for r in rs]],
    )
    assert out == [[1, 2], [2, 3, 4], [3, 4, 5]]  # the end of stream fires the last 3


class Mean(AggregateFunction):
    def create_accumulator(self):
        return (0, 0)

    def add(self, acc, record):
        return (acc[0] + record[1], acc[1] + 1)

    def get_result(self, acc):
        return acc[0] / acc[1]


def test_aggregate_function(env: LocalEnvironment) -> None:
    records = [("a", 2, 0.0), ("a", 4, 1.0), ("b", 10, 1.0)]
    out, _ = _run(
        env, records, TumblingWindow(5), mode="aggregate", fn=Mean, timestamp=lambda r: r[2]
    )
    assert sorted(out) == [3.0, 10.0]


def test_aggregate_tuple_form(env: LocalEnvironment) -> None:
    records = [("a", 2, 0.0), ("a", 4, 1.0)]
    out, _ = _run(
        env,
        records,
        TumblingWindow(5),
        mode="aggregate",
        fn=(lambda: 0, lambda acc, r: acc + r[1], lambda acc: acc * 10),
        timestamp=lambda r: r[2],
    )
    assert out == [60]


def test_processing_time_window_fires_without_end_of_stream(env: LocalEnvironment) -> None:
    class Trickle(SourceFunction):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.sent = 0

        def execute(self, data=None):
            if self.sent >= 3:
                time.sleep(0.01)
                return None
            self.sent += 1
            return ("k", 1)

    out: list[int] = []
    (
        env.from_source(Trickle)
        .keyby(lambda r: r[0])
        .window(TumblingWindow(0.2), time="processing")
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .map(lambda r: r[1])
        .sink(Collect, out)
    )
    job = env.submit()
    deadline = time.monotonic() + 5
    while sum(out) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    fired_while_running = sum(out)
    env.stop()
    job.wait()
    assert fired_while_running == 3  # fired by the clock, not by the end of stream


def test_event_time_needs_a_timestamp(env: LocalEnvironment) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        env.from_batch([1]).keyby(lambda x: x).window(TumblingWindow(1), time="event")


def test_count_session_window_is_rejected(env: LocalEnvironment) -> None:
    with pytest.raises(ValueError, match="count windows"):
        env.from_batch([1]).keyby(lambda x: x).window(SessionWindow(1), time="count")


def test_invalid_window_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="> 0"):
        TumblingWindow(0)
    with pytest.raises(ValueError, match="slide"):
        SlidingWindow(5, 10)


def test_window_on_an_unkeyed_stream_says_to_keyby(env: LocalEnvironment) -> None:
    with pytest.raises(TypeError, match="keyby"):
        env.from_batch([1]).window(TumblingWindow(1))
