"""Protobuf <-> native-core conversions and the request checks the core does not do itself."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from sage_proto.tsdb.v1 import tsdb_pb2
from sage_runtime import errors as err

AGGREGATIONS = {
    tsdb_pb2.AGGREGATION_UNSPECIFIED: "avg",
    tsdb_pb2.AGGREGATION_SUM: "sum",
    tsdb_pb2.AGGREGATION_AVG: "avg",
    tsdb_pb2.AGGREGATION_MIN: "min",
    tsdb_pb2.AGGREGATION_MAX: "max",
    tsdb_pb2.AGGREGATION_COUNT: "count",
    tsdb_pb2.AGGREGATION_FIRST: "first",
    tsdb_pb2.AGGREGATION_LAST: "last",
    tsdb_pb2.AGGREGATION_STDDEV: "stddev",
    tsdb_pb2.AGGREGATION_PERCENTILE: "percentile",
}
WINDOW_TYPES = {
    tsdb_pb2.WINDOW_TYPE_UNSPECIFIED: "tumbling",
    tsdb_pb2.WINDOW_TYPE_TUMBLING: "tumbling",
    tsdb_pb2.WINDOW_TYPE_SLIDING: "sliding",
    tsdb_pb2.WINDOW_TYPE_SESSION: "session",
}
INTERPOLATIONS = {
    tsdb_pb2.INTERPOLATION_UNSPECIFIED: "none",
    tsdb_pb2.INTERPOLATION_NONE: "none",
    tsdb_pb2.INTERPOLATION_LINEAR: "linear",
    tsdb_pb2.INTERPOLATION_FORWARD: "forward",
    tsdb_pb2.INTERPOLATION_BACKWARD: "backward",
    tsdb_pb2.INTERPOLATION_ZERO: "zero",
}
SIDES = {tsdb_pb2.SIDE_LEFT: "left", tsdb_pb2.SIDE_RIGHT: "right"}
DURABILITIES = frozenset(tsdb_pb2.Durability.values())

# The core names its parameters; the request names the proto fields.
_CORE_FIELDS = {
    "window_size": "window_size_ms",
    "slide": "slide_ms",
    "session_gap": "session_gap_ms",
    "timestamps": "timestamps_ms",
    "max_delay": "max_delay_ms",
}
_FIELD_PATH = re.compile(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*): ")
_SEGMENT = re.compile(r"([a-z_]+)")


def field_of(message: str, default: str, prefix: str = "") -> str:
    """The request field a core error names ("series[0].values[3]: ..."), else ``default``."""
    found = _FIELD_PATH.match(message)
    if not found:
        return default
    path = _SEGMENT.sub(lambda m: _CORE_FIELDS.get(m.group(1), m.group(1)), found.group(1))
    return prefix + path


def enum(value: int, names: Mapping[Any, str], field: str) -> str:
    """proto3 enums are open: an unknown number arrives as itself and is refused."""
    name = names.get(value)
    if name is None:
        known = ", ".join(str(v) for v in sorted(names))
        raise err.invalid_argument(
            field, f"{field} {value} is not a known value; use one of {known}"
        )
    return name


def durable(value: int) -> bool:
    if value not in DURABILITIES:
        raise err.invalid_argument(
            "durability", f"durability {value} is not a known value; use 0, 1 or 2"
        )
    return value != tsdb_pb2.DURABILITY_ASYNC


def require_metric(metric: str) -> str:
    if not metric:
        raise err.invalid_argument("metric", "metric must name the series' metric, e.g. 'cpu'")
    return metric


def non_negative(value: int, field: str) -> int:
    if value < 0:
        raise err.invalid_argument(field, f"{field} must be >= 0; got {value}")
    return value


def bounds(time_range: tsdb_pb2.TimeRange) -> tuple[int | None, int | None]:
    start = time_range.start_ms if time_range.HasField("start_ms") else None
    end = time_range.end_ms if time_range.HasField("end_ms") else None
    if start is not None and end is not None and start >= end:
        raise err.invalid_argument(
            "time_range", f"time_range.start_ms ({start}) must be before end_ms ({end})"
        )
    return start, end


def batches_from_proto(series: Any, max_points: int) -> tuple[list[dict[str, Any]], int]:
    """The native write batches of a WriteRequest's series, and their point count."""
    out: list[dict[str, Any]] = []
    total = 0
    for i, b in enumerate(series):
        n = len(b.timestamps_ms)
        total += n
        if total > max_points:
            raise err.limit_exceeded(
                "series",
                f"more than {max_points} points in one Write; the limit is max_write_points, "
                "split the write",
                max_points,
            )
        batch: dict[str, Any] = {
            "metric": b.metric,
            "tags": dict(b.tags),
            "timestamps": np.array(b.timestamps_ms, dtype=np.int64),
            "values": np.array(b.values, dtype=np.float64),
        }
        if b.vector_dimension or b.vectors:
            dim = b.vector_dimension
            if dim == 0 or len(b.vectors) != n * dim * 4:
                raise err.invalid_argument(
                    f"series[{i}].vectors",
                    f"series[{i}].vectors holds {len(b.vectors)} bytes; {n} points of dimension "
                    f"{dim} need {n * dim * 4} (little-endian float32)",
                )
            batch["vectors"] = np.frombuffer(b.vectors, dtype="<f4").reshape(n, dim)
        if b.fields:
            batch["fields"] = list(b.fields)
        out.append(batch)
    return out, total


def series_to_proto(s: dict[str, Any]) -> tsdb_pb2.SeriesBatch:
    msg = tsdb_pb2.SeriesBatch(metric=s["metric"], tags=s["tags"])
    msg.timestamps_ms.extend(s["timestamps"].tolist())
    msg.values.extend(s["values"].tolist())
    vectors = s.get("vectors")
    if vectors is not None:
        msg.vector_dimension = vectors.shape[1]
        msg.vectors = np.ascontiguousarray(vectors, dtype="<f4").tobytes()
    if s.get("fields") is not None:
        msg.fields.extend(s["fields"])
    return msg


def group_to_proto(g: dict[str, Any]) -> tsdb_pb2.WindowGroup:
    msg = tsdb_pb2.WindowGroup(group=g["group"], series_count=g["series"])
    msg.window_start_ms.extend(g["start"].tolist())
    msg.window_end_ms.extend(g["end"].tolist())
    msg.values.extend(g["value"].tolist())
    msg.counts.extend(g["count"].tolist())
    return msg


def pairs_to_proto(out: dict[str, Any]) -> tsdb_pb2.JoinPairs:
    return tsdb_pb2.JoinPairs(
        left_timestamps_ms=out["left_ts"].tolist(),
        right_timestamps_ms=out["right_ts"].tolist(),
        keys=out["key"],
        left_values=out["left_value"].tolist(),
        right_values=out["right_value"].tolist(),
        left_ids=out["left_id"].tolist(),
        right_ids=out["right_id"].tolist(),
    )
