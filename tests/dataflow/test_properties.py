"""Property tests: partitioning, parallelism and chaining never lose or duplicate a record, and
windows agree with a plain-Python reference."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sage_client import LocalEnvironment, SessionWindow, SlidingWindow, TumblingWindow

from .conftest import Collect

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

records = st.lists(st.integers(min_value=-1000, max_value=1000), max_size=300)
widths = st.integers(min_value=1, max_value=3)


@FAST
@given(
    data=records,
    p_src=widths,
    p_map=widths,
    p_key=widths,
    p_sink=widths,
    strategy=st.sampled_from(["hash", "round_robin"]),
    chaining=st.booleans(),
    batch_size=st.sampled_from([1, 7, 1024]),
)
def test_no_record_is_lost_or_duplicated(
    data, p_src, p_map, p_key, p_sink, strategy, chaining, batch_size
):
    env = LocalEnvironment(
        "prop", config={"runtime": {"chaining": chaining, "batch_size": batch_size}}
    )
    out: list[int] = []
    (
        env.from_batch(data, parallelism=p_src)
        .map(lambda x: x * 2, parallelism=p_map)
        .filter(lambda x: x % 3 != 0)
        .keyby(lambda x: x % 5, strategy=strategy)
        .flatmap(lambda x: [x, x + 1], parallelism=p_key)
        .sink(Collect, out, parallelism=p_sink)
    )
    env.submit(autostop=True)
    expected = [y for x in data if (x * 2) % 3 != 0 for y in (x * 2, x * 2 + 1)]
    assert Counter(out) == Counter(expected)


@FAST
@given(data=records, width=widths)
def test_broadcast_delivers_one_copy_per_instance(data, width):
    env = LocalEnvironment("prop")
    out: list[int] = []
    env.from_batch(data).keyby(lambda x: x, strategy="broadcast").map(
        lambda x: x, parallelism=width
    ).sink(Collect, out)
    env.submit(autostop=True)
    assert Counter(out) == Counter({k: v * width for k, v in Counter(data).items()})


def _reference_time_windows(events, size, slide):
    """Every event lands in each window [s, s+size) with s a multiple of slide containing it."""
    sums: dict[tuple[str, float], int] = defaultdict(int)
    for key, value, ts in events:
        start = math.floor(ts / slide) * slide
        while start > ts - size:
            sums[(key, start)] += value
            start -= slide
    return Counter((key, total) for (key, _), total in sums.items())


events = st.lists(
    st.tuples(
        st.sampled_from("abc"),
        st.integers(min_value=0, max_value=50),
        st.integers(min_value=0, max_value=200),
    ),
    max_size=120,
)


@FAST
@given(
    events=events,
    size=st.integers(min_value=1, max_value=40),
    slide_div=st.integers(min_value=1, max_value=4),
    width=widths,
)
def test_event_time_windows_match_reference(events, size, slide_div, width):
    slide = max(1, size // slide_div)
    spec = TumblingWindow(size) if slide == size else SlidingWindow(size, slide)
    # ordered timestamps and a watermark bound covering any disorder -> nothing is late
    events = sorted(events, key=lambda e: e[2])
    env = LocalEnvironment("prop")
    out: list[tuple[str, int]] = []
    (
        env.from_batch(events)
        .keyby(lambda e: e[0])
        .window(spec, timestamp=lambda e: e[2])
        .reduce(lambda a, b: (a[0], a[1] + b[1], a[2]), parallelism=width)
        .map(lambda e: (e[0], e[1]))
        .sink(Collect, out)
    )
    env.submit(autostop=True)
    assert Counter(out) == _reference_time_windows(events, size, slide)


@FAST
@given(events=events, size=st.integers(min_value=1, max_value=10))
def test_count_windows_match_reference(events, size):
    env = LocalEnvironment("prop")
    out: list[tuple[str, list[int]]] = []
    (
        env.from_batch(events)
        .keyby(lambda e: e[0])
        .window(TumblingWindow(size), time="count")
        .apply(lambda key, window, rs: [(key, [r[1] for r in rs])])
        .sink(Collect, out)
    )
    env.submit(autostop=True)
    per_key: dict[str, list[int]] = defaultdict(list)
    for key, value, _ in events:
        per_key[key].append(value)
    expected = [
        (key, values[i : i + size])
        for key, values in per_key.items()
        for i in range(0, len(values), size)
    ]
    assert sorted(out) == sorted(expected)


def _reference_sessions(events, gap):
    per_key: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for key, value, ts in events:
        per_key[key].append((ts, value))
    result = []
    for key, items in per_key.items():
        items.sort()
        start, end, total = items[0][0], items[0][0] + gap, items[0][1]
        for ts, value in items[1:]:
            if ts < end:
                end, total = max(end, ts + gap), total + value
            else:
                result.append((key, start, end, total))
                start, end, total = ts, ts + gap, value
        result.append((key, start, end, total))
    return Counter(result)


@FAST
@given(events=events, gap=st.integers(min_value=1, max_value=30))
def test_session_windows_match_reference(events, gap):
    env = LocalEnvironment("prop")
    out: list[tuple[str, float, float, int]] = []
    (
        env.from_batch(events)
        .keyby(lambda e: e[0])
        .window(SessionWindow(gap), timestamp=lambda e: e[2], out_of_orderness=1000)
        .apply(lambda key, w, rs: [(key, w.start, w.end, sum(r[1] for r in rs))])
        .sink(Collect, out)
    )
    env.submit(autostop=True)
    assert Counter(out) == _reference_sessions(events, gap)


def _reference_with_watermark(events, size, bound):
    """Events in arrival order; the watermark trails the largest timestamp by ``bound``; a record
    whose window has already ended at the watermark is late."""
    watermark = -math.inf
    sums: dict[tuple[str, int], int] = defaultdict(int)
    late = []
    for key, value, ts in events:
        start = math.floor(ts / size) * size
        if start + size > watermark:
            sums[(key, start)] += value
        else:
            late.append((key, value, ts))
        watermark = max(watermark, ts - bound)
    return Counter((key, total) for (key, _), total in sums.items()), Counter(late)


@FAST
@given(
    events=events,
    size=st.integers(min_value=1, max_value=40),
    bound=st.integers(min_value=0, max_value=60),
    batch_size=st.sampled_from([1, 5, 1024]),
)
def test_out_of_order_events_and_late_records_match_reference(events, size, bound, batch_size):
    env = LocalEnvironment("prop", config={"runtime": {"batch_size": batch_size}})
    out: list[tuple[str, int]] = []
    late: list[tuple[str, int, int]] = []
    result = (
        env.from_batch(events)
        .keyby(lambda e: e[0])
        .window(TumblingWindow(size), timestamp=lambda e: e[2], out_of_orderness=bound)
        .reduce(lambda a, b: (a[0], a[1] + b[1], a[2]))
    )
    result.map(lambda e: (e[0], e[1])).sink(Collect, out)
    result.late_records().sink(Collect, late)
    env.submit(autostop=True)
    expected_out, expected_late = _reference_with_watermark(events, size, bound)
    assert Counter(out) == expected_out
    assert Counter(late) == expected_late
