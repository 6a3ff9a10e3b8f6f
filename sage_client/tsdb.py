"""Typed clients of the TSDB service: ``TSDBClient`` (blocking) and ``AsyncTSDBClient``, both
derived from one definition of each method (``_TSDBCalls``; see ``sage_client.calls``).
Timestamps are int64 milliseconds since the Unix epoch.

    tsdb = TSDBClient()                                  # SAGE_TSDB_ADDR / SAGE_ETCD_ENDPOINTS
    tsdb.write_points("cpu", timestamps, values, tags={"host": "a"})
    tsdb.query("cpu", tag_filter="host=a", start=t0, end=t1)          # [SeriesData]
    tsdb.window_aggregate("cpu", window_size_ms=60_000, aggregation="avg", group_by=["host"])
    for pairs in tsdb.stream_join(batches, window_size_ms=1000, max_delay_ms=500): ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sage_client.calls import (
    Stream,
    Unary,
    awaited,
    awaited_stream,
    blocking,
    blocking_stream,
)
from sage_client.client_base import AsyncClient, BlockingClient
from sage_client.discovery import Resolver
from sage_client.errors import InvalidArgument
from sage_proto.tsdb.v1 import tsdb_pb2, tsdb_pb2_grpc

AGGREGATIONS = {
    "sum": tsdb_pb2.AGGREGATION_SUM,
    "avg": tsdb_pb2.AGGREGATION_AVG,
    "mean": tsdb_pb2.AGGREGATION_AVG,
    "min": tsdb_pb2.AGGREGATION_MIN,
    "max": tsdb_pb2.AGGREGATION_MAX,
    "count": tsdb_pb2.AGGREGATION_COUNT,
    "first": tsdb_pb2.AGGREGATION_FIRST,
    "last": tsdb_pb2.AGGREGATION_LAST,
    "stddev": tsdb_pb2.AGGREGATION_STDDEV,
    "percentile": tsdb_pb2.AGGREGATION_PERCENTILE,
}
WINDOW_TYPES = {
    "tumbling": tsdb_pb2.WINDOW_TYPE_TUMBLING,
    "sliding": tsdb_pb2.WINDOW_TYPE_SLIDING,
    "session": tsdb_pb2.WINDOW_TYPE_SESSION,
}
INTERPOLATIONS = {
    "none": tsdb_pb2.INTERPOLATION_NONE,
    "linear": tsdb_pb2.INTERPOLATION_LINEAR,
    "forward": tsdb_pb2.INTERPOLATION_FORWARD,
    "backward": tsdb_pb2.INTERPOLATION_BACKWARD,
    "zero": tsdb_pb2.INTERPOLATION_ZERO,
}
Durability = Literal["sync", "async"]
_DURABILITY = {"sync": tsdb_pb2.DURABILITY_SYNC, "async": tsdb_pb2.DURABILITY_ASYNC}
Side = Literal["left", "right"]


@dataclass
class SeriesData:
    """One series' points: ``timestamps`` (int64 ms) and ``values`` as numpy arrays."""

    metric: str
    tags: dict[str, str]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    vectors: npt.NDArray[np.float32] | None = None
    fields: list[str] | None = None


@dataclass
class WindowGroup:
    """The windows of one group: parallel arrays of start, end, value and point count."""

    group: dict[str, str]
    series_count: int
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int64]


@dataclass
class WriteResult:
    points_written: int
    points_dropped: int


@dataclass
class JoinBatch:
    """Events of one side of a stream join."""

    side: Side
    timestamps: Sequence[int] | npt.NDArray[Any]
    keys: Sequence[str]
    values: Sequence[float] | npt.NDArray[Any]
    ids: Sequence[int] | None = None


@dataclass
class JoinPairs:
    """Joined pairs, as parallel arrays, with the join's late count and watermark."""

    left_ts: npt.NDArray[np.int64]
    right_ts: npt.NDArray[np.int64]
    keys: list[str]
    left_values: npt.NDArray[np.float64]
    right_values: npt.NDArray[np.float64]
    left_ids: npt.NDArray[np.int64]
    right_ids: npt.NDArray[np.int64]
    late_events: int = 0
    watermark_ms: int | None = None

    def __len__(self) -> int:
        return len(self.keys)


@dataclass
class SeriesInfo:
    metric: str
    tags: dict[str, str]
    points: int
    first_timestamp_ms: int
    last_timestamp_ms: int
    retention_ms: int = 0
    vector_dimension: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def timestamps_ms(values: Any, where: str = "timestamps") -> npt.NDArray[np.int64]:
    """int64 milliseconds; a NaN or infinite float is refused naming the element."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise InvalidArgument(
                f"{where}[{bad[0]}] is {arr[bad[0]]}: timestamps are int64 milliseconds since the "
                "Unix epoch",
                field=f"{where}[{bad[0]}]",
            )
        return np.floor(arr).astype(np.int64)
    if arr.size and arr.dtype.kind not in "iub":
        raise InvalidArgument(f"{where} must hold integers (milliseconds)", field=where)
    return arr.astype(np.int64, copy=False)


def _name(value: str, names: Mapping[str, int], where: str) -> Any:  # the proto enum value
    found = names.get(value.lower())
    if found is None:
        raise InvalidArgument(
            f"{where} {value!r} is not one of {', '.join(sorted(names))}", field=where
        )
    return found


def _range(start: int | None, end: int | None) -> tsdb_pb2.TimeRange:
    r = tsdb_pb2.TimeRange()
    if start is not None:
        r.start_ms = int(start)
    if end is not None:
        r.end_ms = int(end)
    return r


def series_batch(
    metric: str,
    timestamps: Any,
    values: Any,
    tags: Mapping[str, str] | None = None,
    vectors: Any = None,
    fields: Sequence[str] | None = None,
    where: str = "timestamps",
) -> tsdb_pb2.SeriesBatch:
    ts = timestamps_ms(timestamps, where)
    vals = np.asarray(values, dtype=np.float64).reshape(-1)
    msg = tsdb_pb2.SeriesBatch(
        metric=metric, tags=dict(tags or {}), timestamps_ms=ts.tolist(), values=vals.tolist()
    )
    if vectors is not None:
        v = np.ascontiguousarray(vectors, dtype="<f4")
        if v.ndim != 2:
            raise InvalidArgument(
                "vectors must be a 2-D array (points, dimension)", field="vectors"
            )
        msg.vector_dimension = v.shape[1]
        msg.vectors = v.tobytes()
    if fields is not None:
        msg.fields.extend(fields)
    return msg


def _series_data(b: tsdb_pb2.SeriesBatch) -> SeriesData:
    n = len(b.timestamps_ms)
    vectors = None
    if b.vector_dimension:
        vectors = np.frombuffer(b.vectors, dtype="<f4").reshape(n, b.vector_dimension)
    return SeriesData(
        b.metric,
        dict(b.tags),
        np.array(b.timestamps_ms, dtype=np.int64),
        np.array(b.values, dtype=np.float64),
        vectors,
        list(b.fields) if b.fields else None,
    )


def _query_of(reply: tsdb_pb2.QueryResponse) -> list[SeriesData]:
    return [_series_data(b) for b in reply.series]


def _groups_of(reply: tsdb_pb2.WindowAggregateResponse) -> list[WindowGroup]:
    return [
        WindowGroup(
            dict(g.group),
            g.series_count,
            np.array(g.window_start_ms, dtype=np.int64),
            np.array(g.window_end_ms, dtype=np.int64),
            np.array(g.values, dtype=np.float64),
            np.array(g.counts, dtype=np.int64),
        )
        for g in reply.groups
    ]


def _pairs_of(reply: tsdb_pb2.StreamJoinResponse) -> Iterator[JoinPairs]:
    p = reply.pairs
    yield JoinPairs(
        np.array(p.left_timestamps_ms, dtype=np.int64),
        np.array(p.right_timestamps_ms, dtype=np.int64),
        list(p.keys),
        np.array(p.left_values, dtype=np.float64),
        np.array(p.right_values, dtype=np.float64),
        np.array(p.left_ids, dtype=np.int64),
        np.array(p.right_ids, dtype=np.int64),
        reply.late_events,
        reply.watermark_ms if reply.HasField("watermark_ms") else None,
    )


def _join_requests(
    batches: Iterable[JoinBatch], window_size_ms: int, max_delay_ms: int
) -> Iterator[tsdb_pb2.StreamJoinRequest]:
    yield tsdb_pb2.StreamJoinRequest(
        config=tsdb_pb2.JoinConfig(window_size_ms=window_size_ms, max_delay_ms=max_delay_ms)
    )
    sides = {"left": tsdb_pb2.SIDE_LEFT, "right": tsdb_pb2.SIDE_RIGHT}
    for b in batches:
        side = sides.get(b.side)
        if side is None:
            raise InvalidArgument(f"side {b.side!r} is not 'left' or 'right'", field="side")
        yield tsdb_pb2.StreamJoinRequest(
            events=tsdb_pb2.JoinEvents(
                side=side,
                timestamps_ms=timestamps_ms(b.timestamps).tolist(),
                keys=list(b.keys),
                values=np.asarray(b.values, dtype=np.float64).tolist(),
                ids=list(b.ids) if b.ids is not None else [],
            )
        )


class _TSDBCalls:
    """Every TSDB method, written once: its request and how its reply decodes."""

    def _write(
        self, series: Sequence[tsdb_pb2.SeriesBatch], *, durability: Durability = "sync"
    ) -> Unary[WriteResult]:
        """Write prepared batches (``series_batch(...)``), many series in one call."""
        request = tsdb_pb2.WriteRequest(
            series=series, durability=_name(durability, _DURABILITY, "durability")
        )
        return Unary(
            "Write",
            request,
            False,
            lambda r: WriteResult(r.points_written, r.points_dropped),
        )

    def _write_points(
        self,
        metric: str,
        timestamps: Any,
        values: Any,
        *,
        tags: Mapping[str, str] | None = None,
        vectors: Any = None,
        fields: Sequence[str] | None = None,
        durability: Durability = "sync",
    ) -> Unary[WriteResult]:
        """Write one series' points (timestamps in int64 ms, any order)."""
        batch = series_batch(metric, timestamps, values, tags, vectors, fields)
        return self._write([batch], durability=durability)

    def _query(
        self,
        metric: str,
        *,
        tag_filter: str = "",
        start: int | None = None,
        end: int | None = None,
        limit: int = 0,
        include_vectors: bool = False,
        include_fields: bool = False,
    ) -> Unary[list[SeriesData]]:
        """The points of the matching series in [start, end), per series in time order."""
        request = tsdb_pb2.QueryRequest(
            metric=metric,
            tag_filter=tag_filter,
            time_range=_range(start, end),
            limit=limit,
            include_vectors=include_vectors,
            include_fields=include_fields,
        )
        return Unary("Query", request, True, _query_of)

    def _window_aggregate(
        self,
        metric: str,
        *,
        window_size_ms: int = 0,
        window_type: str = "tumbling",
        aggregation: str = "avg",
        slide_ms: int = 0,
        session_gap_ms: int = 0,
        percentile: float = 50.0,
        interpolation: str = "none",
        group_by: Sequence[str] = (),
        tag_filter: str = "",
        start: int | None = None,
        end: int | None = None,
        limit: int = 0,
    ) -> Unary[list[WindowGroup]]:
        """Tumbling, sliding or session window aggregates, one ``WindowGroup`` per group."""
        request = tsdb_pb2.WindowAggregateRequest(
            metric=metric,
            tag_filter=tag_filter,
            time_range=_range(start, end),
            window_type=_name(window_type, WINDOW_TYPES, "window_type"),
            window_size_ms=window_size_ms,
            slide_ms=slide_ms,
            session_gap_ms=session_gap_ms,
            aggregation=_name(aggregation, AGGREGATIONS, "aggregation"),
            percentile=percentile,
            interpolation=_name(interpolation, INTERPOLATIONS, "interpolation"),
            group_by=list(group_by),
            limit=limit,
        )
        return Unary("WindowAggregate", request, True, _groups_of)

    def _stream_join(
        self, batches: Iterable[JoinBatch], *, window_size_ms: int, max_delay_ms: int = 0
    ) -> Stream[JoinPairs]:
        """Join two streams of events by key within ``window_size_ms``, tolerating
        ``max_delay_ms`` of disorder; yields the pairs as the watermark releases them."""
        requests = _join_requests(batches, window_size_ms, max_delay_ms)
        return Stream("StreamJoin", requests, _pairs_of)

    def _list_series(
        self, metric: str = "", *, tag_filter: str = "", limit: int = 0
    ) -> Unary[list[SeriesInfo]]:
        request = tsdb_pb2.ListSeriesRequest(metric=metric, tag_filter=tag_filter, limit=limit)
        return Unary(
            "ListSeries",
            request,
            True,
            lambda r: [
                SeriesInfo(
                    s.metric,
                    dict(s.tags),
                    s.points,
                    s.first_timestamp_ms,
                    s.last_timestamp_ms,
                    s.retention_ms,
                    s.vector_dimension,
                )
                for s in r.series
            ],
        )

    def _delete_series(
        self,
        metric: str,
        *,
        tag_filter: str = "",
        start: int | None = None,
        end: int | None = None,
        durability: Durability = "sync",
    ) -> Unary[int]:
        """Remove the points in [start, end) (everything by default); returns how many."""
        request = tsdb_pb2.DeleteSeriesRequest(
            metric=metric,
            tag_filter=tag_filter,
            time_range=_range(start, end),
            durability=_name(durability, _DURABILITY, "durability"),
        )
        return Unary("DeleteSeries", request, False, lambda r: r.points_deleted)

    def _set_retention(
        self,
        metric: str,
        retention_ms: int,
        *,
        tag_filter: str = "",
        durability: Durability = "sync",
    ) -> Unary[int]:
        """Keep ``retention_ms`` of history behind each matching series' newest point."""
        request = tsdb_pb2.SetRetentionRequest(
            metric=metric,
            tag_filter=tag_filter,
            retention_ms=retention_ms,
            durability=_name(durability, _DURABILITY, "durability"),
        )
        return Unary("SetRetention", request, True, lambda r: r.series_updated)

    def _downsample(
        self,
        metric: str,
        dest_metric: str,
        *,
        window_size_ms: int,
        aggregation: str = "avg",
        tag_filter: str = "",
        start: int | None = None,
        end: int | None = None,
        durability: Durability = "sync",
    ) -> Unary[int]:
        """Write tumbling aggregates of ``metric`` into ``dest_metric``; returns the points written."""
        request = tsdb_pb2.DownsampleRequest(
            metric=metric,
            tag_filter=tag_filter,
            time_range=_range(start, end),
            window_size_ms=window_size_ms,
            aggregation=_name(aggregation, AGGREGATIONS, "aggregation"),
            dest_metric=dest_metric,
            durability=_name(durability, _DURABILITY, "durability"),
        )
        return Unary("Downsample", request, False, lambda r: r.points_written)

    def _compact(self) -> Unary[int]:
        return Unary("Compact", tsdb_pb2.CompactRequest(), True, lambda r: r.points)

    def _stats(self) -> Unary[dict[str, Any]]:
        def decode(r: tsdb_pb2.StatsResponse) -> dict[str, Any]:
            return {f.name: getattr(r, f.name) for f in r.DESCRIPTOR.fields}

        return Unary("Stats", tsdb_pb2.StatsRequest(), True, decode)

    def _reset(self) -> Unary[None]:
        """Remove every series (admin only)."""
        return Unary("Reset", tsdb_pb2.ResetRequest(), True, lambda r: None)


class TSDBClient(BlockingClient, _TSDBCalls):
    """Blocking client of ``sage.tsdb.v1.TSDBService``."""

    def __init__(
        self,
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 60.0,
    ) -> None:
        self._connect("tsdb", tsdb_pb2_grpc.TSDBServiceStub, address, resolver, token, timeout)

    write = blocking(_TSDBCalls._write)
    write_points = blocking(_TSDBCalls._write_points)
    query = blocking(_TSDBCalls._query)
    window_aggregate = blocking(_TSDBCalls._window_aggregate)
    stream_join = blocking_stream(_TSDBCalls._stream_join)
    list_series = blocking(_TSDBCalls._list_series)
    delete_series = blocking(_TSDBCalls._delete_series)
    set_retention = blocking(_TSDBCalls._set_retention)
    downsample = blocking(_TSDBCalls._downsample)
    compact = blocking(_TSDBCalls._compact)
    stats = blocking(_TSDBCalls._stats)
    reset = blocking(_TSDBCalls._reset)


class AsyncTSDBClient(AsyncClient, _TSDBCalls):
    """asyncio client of ``sage.tsdb.v1.TSDBService``."""

    def __init__(
        self,
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 60.0,
    ) -> None:
        self._connect("tsdb", tsdb_pb2_grpc.TSDBServiceStub, address, resolver, token, timeout)

    write = awaited(_TSDBCalls._write)
    write_points = awaited(_TSDBCalls._write_points)
    query = awaited(_TSDBCalls._query)
    window_aggregate = awaited(_TSDBCalls._window_aggregate)
    stream_join = awaited_stream(_TSDBCalls._stream_join)
    list_series = awaited(_TSDBCalls._list_series)
    delete_series = awaited(_TSDBCalls._delete_series)
    set_retention = awaited(_TSDBCalls._set_retention)
    downsample = awaited(_TSDBCalls._downsample)
    compact = awaited(_TSDBCalls._compact)
    stats = awaited(_TSDBCalls._stats)
    reset = awaited(_TSDBCalls._reset)
