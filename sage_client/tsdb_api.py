"""SAGE's sage_tsdb names over the TSDB core: ``SageTSDB`` (embedded native core), the
algorithms ``WindowAggregator`` and ``OutOfOrderStreamJoin``, and ``SageTSDBService`` — the same
methods in-process (``LocalEnvironment``, no servers) or over gRPC with a mesh, which is what
``self.call_service("tsdb_service")`` hands a pipeline function. Timestamps are int64 ms.

    db = SageTSDB()
    db.add(1_700_000_000_000, 21.5, tags={"sensor": "t1"})
    db.query(TimeRange(start, end), tags={"sensor": "t1"}, aggregation=AggregationType.AVG,
             window_size=60_000)
    svc = SageTSDBService();  svc.add_batch(ts, values);  svc.window_aggregate(start, end, window_size=60_000)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

import numpy as np

from sage_client.errors import InvalidArgument
from sage_client.tsdb import JoinBatch, TSDBClient, series_batch, timestamps_ms

DEFAULT_METRIC = "sage_tsdb"


class AggregationType(StrEnum):
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    COUNT = "count"
    FIRST = "first"
    LAST = "last"
    STDDEV = "stddev"
    PERCENTILE = "percentile"


class InterpolationType(StrEnum):
    NONE = "none"
    LINEAR = "linear"
    FORWARD_FILL = "forward"
    BACKWARD_FILL = "backward"
    ZERO = "zero"


class WindowType(StrEnum):
    TUMBLING = "tumbling"
    SLIDING = "sliding"
    SESSION = "session"


@dataclass
class TimeRange:
    """[start_time, end_time] in ms (or datetimes), both ends included as in SAGE's sage_tsdb;
    None is open. (The service's ``TimeRange`` is half-open: ``bounds`` converts.)"""

    start_time: int | datetime | None = None
    end_time: int | datetime | None = None

    def bounds(self) -> tuple[int | None, int | None]:
        end = _ms(self.end_time)
        return _ms(self.start_time), None if end is None else end + 1


@dataclass
class TimeSeriesData:
    timestamp: int
    value: float | np.ndarray
    tags: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class WindowConfig:
    window_type: WindowType | str = WindowType.TUMBLING
    window_size_ms: int = 60_000
    slide_interval: int = 0
    session_gap: int = 0
    aggregation: AggregationType | str = AggregationType.AVG
    percentile: float = 50.0
    interpolation: InterpolationType | str = InterpolationType.NONE


@dataclass
class JoinConfig:
    window_size: int = 1000
    max_delay: int = 0
    join_key: str | None = None  # a tag (or field) both sides carry; None joins on time only


def _ms(t: int | float | datetime | None, where: str = "timestamp") -> int | None:
    if t is None:
        return None
    if isinstance(t, datetime):
        return int(t.timestamp() * 1000)
    return int(timestamps_ms([t], where)[0])


def _name(v: Enum | str) -> str:
    return v.value if isinstance(v, Enum) else str(v).lower()


def tag_filter(tags: Mapping[str, str] | None) -> str:
    """``{"host": "a"}`` -> ``host="a"`` terms joined by AND."""
    terms = []
    for k, v in (tags or {}).items():
        if '"' in str(v):
            raise InvalidArgument(f"tag {k!r}: a value may not contain '\"'", field="tags")
        terms.append(f'{k}="{v}"')
    return " AND ".join(terms)


class _Native:
    """The embedded core in a directory (a temporary one unless a path is given)."""

    def __init__(self, path: str | None = None) -> None:
        from sage_native import TimeSeriesDB

        self._tmp = None if path else tempfile.mkdtemp(prefix="sage-tsdb-")
        self.db = TimeSeriesDB(path or self._tmp)

    def write(self, batches: list[dict[str, Any]], durable: bool = True) -> int:
        try:
            return int(self.db.write(batches, durable)["written"])
        except ValueError as exc:
            raise InvalidArgument(str(exc), field=str(exc).split(":", 1)[0]) from None

    def close(self) -> None:
        self.db.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _batches(
    metric: str,
    timestamps: Sequence[Any],
    values: Sequence[Any],
    tags_list: Sequence[Mapping[str, str] | None] | None,
    fields_list: Sequence[Mapping[str, Any] | None] | None,
) -> list[dict[str, Any]]:
    """Group points by their tags into one native batch per series."""
    n = len(timestamps)
    if len(values) != n:
        raise InvalidArgument(f"{len(values)} values for {n} timestamps", field="values")
    ts = timestamps_ms([_ms(t, "timestamps") if isinstance(t, datetime) else t for t in timestamps])
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for i in range(n):
        tags = (tags_list[i] if tags_list else None) or {}
        groups.setdefault(tuple(sorted(tags.items())), []).append(i)
    out = []
    for key, idx in groups.items():
        vals, vecs = [], []
        for i in idx:
            v = values[i]
            if isinstance(v, np.ndarray | list | tuple):
                vecs.append(np.asarray(v, dtype=np.float32).reshape(-1))
                vals.append(0.0)
            else:
                vals.append(float(v))
        batch: dict[str, Any] = {
            "metric": metric,
            "tags": dict(key),
            "timestamps": ts[idx],
            "values": np.asarray(vals),
        }
        if vecs:
            if len(vecs) != len(idx):
                raise InvalidArgument("a series mixes vector and scalar values", field="values")
            batch["vectors"] = np.stack(vecs)
        if fields_list:
            batch["fields"] = [
                json.dumps(fields_list[i] or {}) if fields_list[i] else "" for i in idx
            ]
        out.append(batch)
    return out


def _points(series: list[dict[str, Any]]) -> list[TimeSeriesData]:
    out = []
    for s in series:
        vectors = s.get("vectors")
        fields = s.get("fields")
        for j, (t, v) in enumerate(
            zip(s["timestamps"].tolist(), s["values"].tolist(), strict=True)
        ):
            out.append(
                TimeSeriesData(
                    t,
                    vectors[j] if vectors is not None else v,
                    dict(s["tags"]),
                    json.loads(fields[j]) if fields and fields[j] else {},
                )
            )
    out.sort(key=lambda p: p.timestamp)
    return out


class SageTSDB:
    """SAGE's ``SageTSDB``: points with tags in the embedded native core (durable on disk when
    ``config={"path": ...}``)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        config = dict(config or {})
        self.metric = config.get("metric", DEFAULT_METRIC)
        self._core = _Native(config.get("path"))
        self._algorithms: dict[str, Any] = {}
        self._lock = threading.Lock()

    def add(
        self,
        timestamp: int | datetime,
        value: float | np.ndarray,
        tags: Mapping[str, str] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> int:
        self.add_batch([timestamp], [value], [tags], [fields])
        return self.size - 1

    def add_batch(
        self,
        timestamps: Sequence[Any],
        values: Sequence[Any],
        tags_list: Sequence[Mapping[str, str] | None] | None = None,
        fields_list: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[int]:
        start = self.size
        n = self._core.write(_batches(self.metric, timestamps, values, tags_list, fields_list))
        return list(range(start, start + n))

    def query(
        self,
        time_range: TimeRange | None = None,
        tags: Mapping[str, str] | None = None,
        aggregation: AggregationType | str | None = None,
        window_size: int | None = None,
        limit: int | None = None,
    ) -> list[TimeSeriesData]:
        start, end = (time_range or TimeRange()).bounds()
        flt = tag_filter(tags)
        try:
            if aggregation is not None:
                groups = self._core.db.window_aggregate(
                    self.metric,
                    flt,
                    start,
                    end,
                    window_size=window_size or 60_000,
                    aggregation=_name(aggregation),
                    limit=limit or 0,
                )
                return [
                    TimeSeriesData(s, v, dict(tags or {}), {"count": c, "window_end": e})
                    for g in groups
                    for s, e, v, c in zip(
                        g["start"].tolist(),
                        g["end"].tolist(),
                        g["value"].tolist(),
                        g["count"].tolist(),
                        strict=True,
                    )
                ]
            res = self._core.db.query(self.metric, flt, start, end, limit or 0, True, True)
        except ValueError as exc:
            raise InvalidArgument(str(exc), field=str(exc).split(":", 1)[0]) from None
        points = _points(res["series"])
        return points[:limit] if limit else points

    def register_algorithm(self, name: str, algorithm: Any) -> None:
        self._algorithms[name] = algorithm

    def apply_algorithm(self, name: str, data: list[TimeSeriesData], **kwargs: Any) -> Any:
        if name not in self._algorithms:
            raise KeyError(f"no algorithm {name!r}; registered: {sorted(self._algorithms)}")
        return self._algorithms[name].process(data, **kwargs)

    @property
    def size(self) -> int:
        return int(self._core.db.stats()["points"])

    def get_stats(self) -> dict[str, Any]:
        return dict(self._core.db.stats())

    def reset(self) -> None:
        self._core.db.reset()

    def close(self) -> None:
        self._core.close()


class WindowAggregator:
    """SAGE's ``WindowAggregator``: window aggregates over in-memory points (any order)."""

    def __init__(self, config: WindowConfig | None = None) -> None:
        self.config = config or WindowConfig()

    def process(self, data: Sequence[TimeSeriesData], **_: Any) -> list[TimeSeriesData]:
        from sage_native import window_aggregate_arrays

        c = self.config
        if not data:
            return []
        try:
            out = window_aggregate_arrays(
                np.array([d.timestamp for d in data], dtype=np.int64),
                np.array([float(d.value) for d in data]),  # type: ignore[arg-type]
                _name(c.window_type),
                window_size=c.window_size_ms,
                slide=c.slide_interval,
                session_gap=c.session_gap,
                aggregation=_name(c.aggregation),
                percentile=c.percentile,
                interpolation=_name(c.interpolation),
            )
        except ValueError as exc:
            raise InvalidArgument(str(exc), field=str(exc).split(":", 1)[0]) from None
        return [
            TimeSeriesData(s, v, {}, {"count": n, "window_end": e})
            for s, e, v, n in zip(
                out["start"].tolist(),
                out["end"].tolist(),
                out["value"].tolist(),
                out["count"].tolist(),
                strict=True,
            )
        ]


def _key(d: TimeSeriesData, join_key: str | None) -> str:
    if join_key is None:
        return ""
    if join_key in d.tags:
        return str(d.tags[join_key])
    return str(d.fields.get(join_key, ""))


class OutOfOrderStreamJoin:
    """SAGE's ``OutOfOrderStreamJoin``: pairs of left/right points with the same join key whose
    timestamps differ by at most ``window_size``, tolerating ``max_delay`` of disorder
    (watermark = newest timestamp - max_delay; later arrivals are dropped and counted)."""

    def __init__(self, config: JoinConfig | None = None) -> None:
        self.config = config or JoinConfig()
        self.late_events = 0

    def process(
        self, left: Sequence[TimeSeriesData], right: Sequence[TimeSeriesData], **_: Any
    ) -> list[tuple[TimeSeriesData, TimeSeriesData]]:
        from sage_native import StreamJoin

        c = self.config
        try:
            join = StreamJoin(c.window_size, c.max_delay)
        except ValueError as exc:
            raise InvalidArgument(str(exc), field=str(exc).split(":", 1)[0]) from None
        # Arrival order: both streams interleaved by timestamp as they were given.
        events = [(d.timestamp, 0, i) for i, d in enumerate(left)]
        events += [(d.timestamp, 1, i) for i, d in enumerate(right)]
        pairs: list[tuple[TimeSeriesData, TimeSeriesData]] = []

        def collect(out: dict[str, Any]) -> None:
            for li, ri in zip(out["left_id"].tolist(), out["right_id"].tolist(), strict=True):
                pairs.append((left[li], right[ri]))

        for _t, side, i in sorted(events, key=lambda e: e[0]):
            d = (left if side == 0 else right)[i]
            out = join.push_batch(
                "left" if side == 0 else "right",
                [d.timestamp],
                [_key(d, c.join_key)],
                [0.0],
                [i],
            )
            self.late_events += out["late"]
            collect(out)
        collect(join.flush())
        return pairs


class SageTSDBService:
    """SAGE's ``SageTSDBService``: the embedded core with no mesh, the TSDB service with one
    (``SAGE_ETCD_ENDPOINTS`` or ``SAGE_TSDB_ADDR``); the same methods either way."""

    thread_safe = True

    def __init__(
        self, config: Mapping[str, Any] | None = None, client: TSDBClient | None = None
    ) -> None:
        self.metric = dict(config or {}).get("metric", DEFAULT_METRIC)
        self._client = client
        self._local = None if client is not None else SageTSDB(config)

    def process(self) -> SageTSDBService:
        return self  # call_service("tsdb_service") with no method hands back the service

    def add(
        self,
        timestamp: int | datetime,
        value: float,
        tags: Mapping[str, str] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> int:
        return self.add_batch([timestamp], [value], [tags], [fields])

    def add_batch(
        self,
        timestamps: Sequence[Any],
        values: Sequence[Any],
        tags_list: Sequence[Mapping[str, str] | None] | None = None,
        fields_list: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> int:
        batches = _batches(self.metric, timestamps, values, tags_list, fields_list)
        if self._local is not None:
            return self._local._core.write(batches)
        protos = [
            series_batch(
                b["metric"],
                b["timestamps"],
                b["values"],
                b["tags"],
                b.get("vectors"),
                b.get("fields"),
            )
            for b in batches
        ]
        return self._client.write(protos).points_written  # type: ignore[union-attr]

    def query(
        self,
        start: int | datetime | None = None,
        end: int | datetime | None = None,
        tags: Mapping[str, str] | None = None,
        aggregation: str | None = None,
        window_size: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        if aggregation is not None:
            return self.window_aggregate(
                start, end, "tumbling", window_size or 60_000, aggregation, tags, limit
            )
        if self._local is not None:
            points = self._local.query(TimeRange(start, end), tags, limit=limit)
            return [
                {"timestamp": p.timestamp, "value": p.value, "tags": p.tags, "fields": p.fields}
                for p in points
            ]
        first, past = TimeRange(start, end).bounds()
        res = self._client.query(  # type: ignore[union-attr]
            self.metric,
            tag_filter=tag_filter(tags),
            start=first,
            end=past,
            limit=limit or 0,
            include_fields=True,
        )
        rows = [
            {"timestamp": t, "value": v, "tags": s.tags, "fields": json.loads(f) if f else {}}
            for s in res
            for t, v, f in zip(
                s.timestamps.tolist(),
                s.values.tolist(),
                s.fields or [""] * len(s.timestamps),
                strict=True,
            )
        ]
        rows.sort(key=lambda r: r["timestamp"])
        return rows

    def window_aggregate(
        self,
        start: int | datetime | None = None,
        end: int | datetime | None = None,
        window_type: str = "tumbling",
        window_size: int = 60_000,
        aggregation: str = "avg",
        tags: Mapping[str, str] | None = None,
        limit: int | None = None,
        session_gap: int | None = None,
    ) -> list[dict[str, Any]]:
        flt = tag_filter(tags)
        gap = session_gap or window_size
        first, past = TimeRange(start, end).bounds()  # SAGE's ends are included
        if self._local is not None:
            try:
                groups = self._local._core.db.window_aggregate(
                    self.metric,
                    flt,
                    first,
                    past,
                    window_type,
                    window_size,
                    0,
                    gap,
                    aggregation,
                    50.0,
                    "none",
                    [],
                    limit or 0,
                )
            except ValueError as exc:
                raise InvalidArgument(str(exc), field=str(exc).split(":", 1)[0]) from None
            rows = [(g["start"], g["end"], g["value"], g["count"]) for g in groups]
        else:
            found = self._client.window_aggregate(  # type: ignore[union-attr]
                self.metric,
                window_size_ms=window_size if window_type != "session" else 0,
                window_type=window_type,
                aggregation=aggregation,
                session_gap_ms=gap if window_type == "session" else 0,
                tag_filter=flt,
                start=first,
                end=past,
                limit=limit or 0,
            )
            rows = [(g.start, g.end, g.values, g.counts) for g in found]
        return [
            {"window_start": s, "window_end": e, "value": v, "count": c}
            for st, en, va, co in rows
            for s, e, v, c in zip(st.tolist(), en.tolist(), va.tolist(), co.tolist(), strict=True)
        ]

    def stream_join(
        self,
        left: Sequence[Mapping[str, Any] | TimeSeriesData],
        right: Sequence[Mapping[str, Any] | TimeSeriesData],
        window_size: int = 1000,
        max_delay: int = 0,
        join_key: str | None = None,
    ) -> list[dict[str, Any]]:
        lp, rp = [_as_point(p) for p in left], [_as_point(p) for p in right]
        if self._local is not None:
            joined = OutOfOrderStreamJoin(JoinConfig(window_size, max_delay, join_key)).process(
                lp, rp
            )
            return [{"left": _row(a), "right": _row(b)} for a, b in joined]
        batches = []
        order = sorted(
            [(p.timestamp, 0, i) for i, p in enumerate(lp)]
            + [(p.timestamp, 1, i) for i, p in enumerate(rp)]
        )
        for t, side, i in order:
            p = (lp if side == 0 else rp)[i]
            batches.append(
                JoinBatch("left" if side == 0 else "right", [t], [_key(p, join_key)], [0.0], [i])
            )
        out: list[Any] = []
        assert self._client is not None
        for pairs in self._client.stream_join(
            batches, window_size_ms=window_size, max_delay_ms=max_delay
        ):  # type: ignore[union-attr]
            out.extend(
                {"left": _row(lp[li]), "right": _row(rp[ri])}
                for li, ri in zip(pairs.left_ids.tolist(), pairs.right_ids.tolist(), strict=True)
            )
        return out

    def stats(self) -> dict[str, Any]:
        if self._local is not None:
            return self._local.get_stats()
        return self._client.stats()  # type: ignore[union-attr]

    def reset(self) -> None:
        if self._local is not None:
            self._local.reset()
        else:
            self._client.reset()  # type: ignore[union-attr]

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
        elif self._client is not None:
            self._client.close()


def _as_point(p: Mapping[str, Any] | TimeSeriesData) -> TimeSeriesData:
    if isinstance(p, TimeSeriesData):
        return p
    return TimeSeriesData(
        int(_ms(p["timestamp"]) or 0),
        p.get("value", 0.0),
        dict(p.get("tags") or {}),
        dict(p.get("fields") or {}),
    )


def _row(p: TimeSeriesData) -> dict[str, Any]:
    return {"timestamp": p.timestamp, "value": p.value, "tags": p.tags, "fields": p.fields}


def local_tsdb_service() -> SageTSDBService:
    return SageTSDBService()


def mesh_tsdb_service() -> SageTSDBService:
    return SageTSDBService(client=TSDBClient())


def tsdb_service_for_env() -> SageTSDBService:
    mesh = bool(os.environ.get("SAGE_ETCD_ENDPOINTS") or os.environ.get("SAGE_TSDB_ADDR"))
    return mesh_tsdb_service() if mesh else local_tsdb_service()


def _register() -> None:
    from sage_client.services import SEED_SERVICES

    SEED_SERVICES["tsdb_service"] = ("tsdb", local_tsdb_service, mesh_tsdb_service)


_register()
