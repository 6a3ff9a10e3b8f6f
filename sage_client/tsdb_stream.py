"""DataStream operators of the TSDB core: a window aggregate and SAGE's out-of-order stream join,
both on the dataflow runtime's event time (docs/dataflow.md#windows): the runtime assigns,
fires and routes late records; the native core computes the aggregates and the pairs.

    from sage_client.tsdb_stream import tsdb_join, tsdb_window
    cfg = WindowConfig(window_size_ms=60_000, aggregation="percentile", percentile=95)
    tsdb_window(points, cfg, max_delay=5_000, group_by=["host"]).sink(print)  # TimeSeriesData
    pairs = tsdb_join(clicks, views, JoinConfig(window_size=1000, max_delay=500, join_key="user"))
    pairs.sink(print)                                     # (left record, right record)
    pairs.late_records().sink(dropped.append)             # events behind the watermark

Records are ``TimeSeriesData`` or mappings with ``timestamp`` (int ms or datetime), ``value``,
``tags`` and ``fields``; ``timestamp=``, ``value=`` and ``key=`` take other shapes.

The join's watermark is the runtime's for a two-input window: per input, the largest timestamp
seen minus ``max_delay``; the operator's is the smaller of the two, never moving back. It
advances at every record. An event older than it on arrival is late: dropped from the join
and sent to ``late_records()``. A pair is emitted once the watermark passes the later of its
two timestamps, so output comes in event-time order; the rest is emitted at end of stream.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from sage_client.dataflow.api import graph as g
from sage_client.dataflow.api.datastream import DataStream, WindowResultStream
from sage_client.dataflow.api.windows import (
    EVENT_TIME,
    SessionWindow,
    SlidingWindow,
    TumblingWindow,
    Window,
    WindowOptions,
)
from sage_client.dataflow.runtime.context import RuntimeContext
from sage_client.dataflow.runtime.windowing import WindowOperator
from sage_client.errors import InvalidArgument
from sage_client.tsdb_api import JoinConfig, TimeSeriesData, WindowConfig, WindowType, _name

__all__ = ["TSDBJoinOperator", "tsdb_join", "tsdb_join_events", "tsdb_window"]

LEFT, RIGHT = 0, 1
_NO_MARK = np.iinfo(np.int64).min  # the native join's "no watermark yet"


def _invalid(exc: ValueError) -> InvalidArgument:
    text = str(exc)
    return InvalidArgument(text, field=text.split(":", 1)[0])


def timestamp_ms(t: Any) -> int:
    """A record's timestamp as int ms: ints as they are, datetimes converted, floats floored;
    NaN and infinities are refused."""
    if isinstance(t, int) and not isinstance(t, bool):
        return t
    if isinstance(t, datetime):
        return int(t.timestamp() * 1000)
    if isinstance(t, float | np.floating | np.integer):
        if not math.isfinite(float(t)):
            raise InvalidArgument(f"timestamp: {t!r} is not a timestamp", field="timestamp")
        return math.floor(float(t))
    raise InvalidArgument(
        f"timestamp: int milliseconds or a datetime, not {type(t).__name__}", field="timestamp"
    )


# -- record accessors (module-level classes: the logical graph stays picklable) -----------------
def _attr(record: Any, name: str, default: Any = None) -> Any:
    if type(record) is dict or isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


class _Timestamp:
    def __init__(self, fn: Callable[[Any], Any] | None) -> None:
        self.fn = fn

    def __call__(self, record: Any) -> int:
        t = self.fn(record) if self.fn is not None else _attr(record, "timestamp")
        if t is None:
            raise InvalidArgument(
                f"timestamp: the record {record!r} has none; pass timestamp=<record -> ms>",
                field="timestamp",
            )
        return timestamp_ms(t)


class _Value:
    def __init__(self, fn: Callable[[Any], Any] | None) -> None:
        self.fn = fn

    def __call__(self, record: Any) -> float:
        v = self.fn(record) if self.fn is not None else _attr(record, "value")
        if isinstance(v, np.ndarray | list | tuple) or v is None:
            raise InvalidArgument(
                f"value: window aggregates take one number per record, got {v!r}", field="value"
            )
        return float(v)


class _Tag:
    """The value of a tag (or else a field) of a record; "" when it has neither."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, record: Any) -> str:
        tags = _attr(record, "tags") or {}
        if self.name in tags:
            return str(tags[self.name])
        return str((_attr(record, "fields") or {}).get(self.name, ""))


class _GroupKey:
    def __init__(self, names: Sequence[str]) -> None:
        self.tags = [_Tag(n) for n in names]

    def __call__(self, record: Any) -> tuple[str, ...]:
        return tuple(t(record) for t in self.tags)


class _Tagged:
    """Marks the input a join event came from: ``(side, record)``."""

    def __init__(self, side: int | Callable[[Any], Any]) -> None:
        self.side = side

    def __call__(self, record: Any) -> tuple[int, Any]:
        if not callable(self.side):
            return (self.side, record)
        side = self.side(record)
        if side in (LEFT, "left"):
            return (LEFT, record)
        if side in (RIGHT, "right"):
            return (RIGHT, record)
        raise InvalidArgument(f"side: 'left'/'right' (or 0/1), got {side!r}", field="side")


class _Identity:
    def __call__(self, record: Any) -> Any:
        return record


class _TaggedKey:
    def __init__(self, key: Callable[[Any], Any]) -> None:
        self.key = key

    def __call__(self, tagged: tuple[int, Any]) -> Any:
        return self.key(tagged[1])


class _TaggedTimestamp:
    def __init__(self, timestamp: _Timestamp) -> None:
        self.timestamp = timestamp

    def __call__(self, tagged: tuple[int, Any]) -> int:
        return self.timestamp(tagged[1])


class _TaggedSide:
    def __call__(self, tagged: tuple[int, Any]) -> int:
        return tagged[0]


class _Constant:
    def __call__(self, record: Any) -> str:
        return ""


# -- the window aggregate --------------------------------------------------------------------------
class _WindowAggregate:
    """The fired window's points aggregated by the native core: one TimeSeriesData."""

    def __init__(self, config: WindowConfig, group_by: Sequence[str], timestamp: _Timestamp,
                 value: _Value, session: bool) -> None:  # fmt: skip
        self.aggregation = _name(config.aggregation)
        self.percentile = float(config.percentile)
        self.group_by = list(group_by)
        self.timestamp, self.value = timestamp, value
        self.session = session

    def __call__(self, key: Any, window: Window, records: list[Any]) -> list[TimeSeriesData]:
        from sage_native import window_aggregate_arrays

        start, end = int(window.start), int(window.end)
        if self.session:
            end -= 1  # the runtime's session ends at last + gap + 1 (see tsdb_window)
        ts = np.fromiter((self.timestamp(r) for r in records), np.int64, len(records))
        vals = np.fromiter((self.value(r) for r in records), np.float64, len(records))
        try:
            out = window_aggregate_arrays(
                ts - start,
                vals,
                "tumbling",
                window_size=max(end - start, int(ts.max()) - start + 1),
                aggregation=self.aggregation,
                percentile=self.percentile,
            )
        except ValueError as exc:
            raise _invalid(exc) from None
        tags = dict(zip(self.group_by, key, strict=True)) if self.group_by else {}
        return [
            TimeSeriesData(
                start,
                float(out["value"][0]),
                tags,
                {"count": int(out["count"][0]), "window_end": end},
            )
        ]


def _window_spec(config: WindowConfig) -> tuple[Any, bool]:
    kind = _name(config.window_type)
    if kind == WindowType.SESSION:
        if not config.session_gap or config.session_gap <= 0:
            raise InvalidArgument(
                f"session_gap: session windows need a gap > 0 ms, got {config.session_gap!r}",
                field="session_gap",
            )
        # The TSDB's sessions merge points at most `session_gap` apart; the runtime's merge
        # points less than its gap apart: in whole milliseconds, that is gap + 1.
        return SessionWindow(int(config.session_gap) + 1), True
    size = int(config.window_size_ms)
    if size <= 0:
        raise InvalidArgument(
            f"window_size_ms: must be > 0 ms, got {config.window_size_ms!r}", field="window_size_ms"
        )
    if kind == WindowType.SLIDING:
        slide = int(config.slide_interval or size)
        if not 0 < slide <= size:
            raise InvalidArgument(
                f"slide_interval: must be in (0, window_size_ms={size}], got {slide}",
                field="slide_interval",
            )
        return SlidingWindow(size, slide), False
    if kind != WindowType.TUMBLING:
        raise InvalidArgument(
            f"window_type: tumbling, sliding or session, not {config.window_type!r}",
            field="window_type",
        )
    return TumblingWindow(size), False


def tsdb_window(
    stream: DataStream,
    config: WindowConfig,
    *,
    max_delay: int = 0,
    group_by: Sequence[str] = (),
    timestamp: Callable[[Any], Any] | None = None,
    value: Callable[[Any], Any] | None = None,
    parallelism: int | None = None,
) -> WindowResultStream:
    """Window aggregates of a stream of points by event time: ``config`` as for
    ``WindowAggregator`` (tumbling, sliding or session; SUM/AVG/MIN/MAX/COUNT/FIRST/LAST/STDDEV
    or PERCENTILE), one group per value of the ``group_by`` tags. A window fires when the
    watermark (largest timestamp seen minus ``max_delay``) passes its end and emits
    ``TimeSeriesData(window_start, aggregate, group tags, {"count", "window_end"})``; a record
    whose windows have all fired goes to ``late_records()``. Empty windows emit nothing:
    interpolation is the stored query's (``SageTSDB.query``, ``window_aggregate``)."""
    from sage_native import window_aggregate_arrays

    if _name(config.interpolation) != "none":
        raise InvalidArgument(
            "interpolation: the streaming operator emits the windows that have points; "
            "interpolate with a stored query (SageTSDBService.window_aggregate)",
            field="interpolation",
        )
    if max_delay < 0:
        raise InvalidArgument(f"max_delay: must be >= 0 ms, got {max_delay}", field="max_delay")
    spec, session = _window_spec(config)
    try:  # the aggregation and percentile, checked by the core before anything runs
        window_aggregate_arrays(
            np.empty(0, np.int64),
            np.empty(0),
            "tumbling",
            window_size=1,
            aggregation=_name(config.aggregation),
            percentile=float(config.percentile),
        )
    except ValueError as exc:
        raise _invalid(exc) from None
    ts = _Timestamp(timestamp)
    function = _WindowAggregate(config, group_by, ts, _Value(value), session)
    return (
        stream.keyby(_GroupKey(group_by))
        .window(spec, time=EVENT_TIME, timestamp=ts, out_of_orderness=max_delay)
        .apply(function, parallelism=parallelism)
    )


# -- the out-of-order stream join ------------------------------------------------------------------
class _JoinSpec:
    """The join node's function: its configuration, read by ``TSDBJoinOperator``."""

    def __init__(self, window_size: int, max_delay: int, timestamp: _Timestamp) -> None:
        self.window_size, self.max_delay, self.timestamp = window_size, max_delay, timestamp

    def __call__(self, key: Any, window: Window, records: list[Any]) -> list[Any]:
        raise RuntimeError("a TSDB join node runs as TSDBJoinOperator, not as a window function")


class TSDBJoinOperator(WindowOperator):
    """The physical join: the runtime's two-input watermark, the native ``StreamJoin`` under it.

    Records arrive as ``(side, record)`` keyed by the join key. The per-input marks and the
    operator's watermark are the window operator's own fields (``side_marks``, ``watermark``),
    advanced by its rule at every record; the native join is told the watermark after every
    event and holds the buffers and pending pairs. Records are kept here, batch by batch,
    until the watermark shows no future pair can use them."""

    def __init__(
        self, function: _JoinSpec, options: WindowOptions, mode: str, ctx: RuntimeContext
    ) -> None:
        from sage_native import StreamJoin

        super().__init__(function, options, mode, ctx)
        self.join = StreamJoin(function.window_size, function.max_delay)
        self.window_size = function.window_size
        self.delay = int(function.max_delay)
        self.event_ts = function.timestamp
        self.records: dict[int, tuple[int, Any]] = {}  # id -> (side, record)
        self.keys: dict[int, Any] = {}
        self.batches: deque[tuple[int, int, int]] = deque()  # (newest timestamp, first id, n)
        self.next_id = 0

    def _marks(self, sides: np.ndarray, stamps: np.ndarray) -> np.ndarray:
        """The watermark after each event: per input, the largest timestamp seen minus the
        delay; the operator's is the smallest of them, never moving back."""
        lowest = None
        for side in (LEFT, RIGHT):
            mark = np.where(sides == side, stamps - self.delay, _NO_MARK)
            before = self.side_marks[side]
            if before != -math.inf:
                mark[0] = max(int(mark[0]), int(before))
            mark = np.maximum.accumulate(mark)
            if mark[-1] != _NO_MARK:
                self.side_marks[side] = float(mark[-1])
            lowest = mark if lowest is None else np.minimum(lowest, mark)
        assert lowest is not None
        if self.watermark != -math.inf:
            lowest[0] = max(int(lowest[0]), int(self.watermark))
        marks = np.maximum.accumulate(lowest)
        if marks[-1] != _NO_MARK:
            self.watermark = float(marks[-1])
        return marks

    def process(
        self, values: list[Any], keys: list[Any] | None
    ) -> tuple[list[Any], list[Any] | None]:
        if keys is None:
            raise RuntimeError("a TSDB join needs its inputs keyed by the join key")
        n = len(values)
        if not n:
            return [], []
        event_ts = self.event_ts
        sides = np.fromiter((v[0] for v in values), np.int64, n)
        stamps = np.fromiter((event_ts(v[1]) for v in values), np.int64, n)
        marks = self._marks(sides, stamps)
        first = self.next_id
        self.next_id += n
        ids = range(first, first + n)
        self.records.update(zip(ids, values, strict=True))
        self.keys.update(zip(ids, keys, strict=True))
        self.batches.append((int(stamps.max()), first, n))
        out = self.join.push_events(
            sides,
            stamps,
            [k if type(k) is str else str(k) for k in keys],
            marks,
            np.arange(first, first + n, dtype=np.int64),
        )
        for i in out["late_index"].tolist():
            self.records.pop(first + i)
            self._late(self.keys.pop(first + i), values[i][1])
        pairs = self._pairs(out)
        if self.watermark != -math.inf:  # no future pair involves a record older than this
            horizon = self.watermark - self.window_size
            while self.batches and self.batches[0][0] < horizon:
                _, start, count = self.batches.popleft()
                for i in range(start, start + count):
                    self.records.pop(i, None)
                    self.keys.pop(i, None)
        return pairs

    def _pairs(self, out: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        records, keys = self.records, self.keys
        left, right = out["left_id"].tolist(), out["right_id"].tolist()
        return (
            [(records[a][1], records[b][1]) for a, b in zip(left, right, strict=True)],
            [keys[a] for a in left],
        )

    def on_time(self, now: float) -> tuple[list[Any], list[Any]]:
        return [], []

    def finish(self) -> tuple[list[Any], list[Any]]:
        pairs = self._pairs(self.join.flush())
        self.records.clear()
        self.keys.clear()
        self.batches.clear()
        return pairs


def _check_join(config: JoinConfig) -> None:
    """window_size > 0 and max_delay >= 0, checked by the core before any node is added."""
    from sage_native import StreamJoin

    try:
        StreamJoin(int(config.window_size), int(config.max_delay))
    except ValueError as exc:
        raise _invalid(exc) from None


def _join_node(
    tagged: DataStream,
    config: JoinConfig,
    timestamp: Callable[[Any], Any] | None,
    key: Callable[[Any], Any] | None,
    parallelism: int | None,
) -> WindowResultStream:
    ts = _Timestamp(timestamp)
    key_fn = key or (_Tag(config.join_key) if config.join_key else _Constant())
    options = WindowOptions(
        TumblingWindow(int(config.window_size)),
        EVENT_TIME,
        _TaggedTimestamp(ts),
        float(config.max_delay),
        side=_TaggedSide(),
        sides=2,
    )
    stream = tagged.keyby(_TaggedKey(key_fn))._then(
        g.WINDOW,
        _JoinSpec(int(config.window_size), int(config.max_delay), ts),
        (),
        {},
        parallelism=parallelism,
        name="tsdb_join",
        options={"window": options, "mode": "apply", "operator": TSDBJoinOperator},
    )
    return WindowResultStream(stream._env, stream._node_id)


def tsdb_join(
    left: DataStream,
    right: DataStream,
    config: JoinConfig,
    *,
    timestamp: Callable[[Any], Any] | None = None,
    key: Callable[[Any], Any] | None = None,
    parallelism: int | None = None,
) -> WindowResultStream:
    """SAGE's ``OutOfOrderStreamJoin`` as a DataStream operator: ``(left, right)`` for every
    left and right record with the same ``config.join_key`` (a tag, else a field; or ``key=``)
    whose timestamps differ by at most ``config.window_size`` ms, tolerating ``config.max_delay``
    ms of disorder (see the module's doc for the watermark). ``late_records()`` carries the
    events dropped as late. With ``parallelism`` > 1 each instance joins its share of keys."""
    _check_join(config)
    union = left.map(_Tagged(LEFT)).connect(right.map(_Tagged(RIGHT))).map(_Identity())
    return _join_node(union, config, timestamp, key, parallelism)


def tsdb_join_events(
    events: DataStream,
    config: JoinConfig,
    *,
    side: Callable[[Any], Any],
    timestamp: Callable[[Any], Any] | None = None,
    key: Callable[[Any], Any] | None = None,
    parallelism: int | None = None,
) -> WindowResultStream:
    """The same join over one stream of both sides' events, ``side(record)`` saying which
    ("left"/"right" or 0/1), in the order the stream delivers them (as the StreamJoin RPC)."""
    _check_join(config)
    return _join_node(events.map(_Tagged(side)), config, timestamp, key, parallelism)
