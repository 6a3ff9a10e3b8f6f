"""The TSDBService servicer: checks requests at the edge, runs the native core's calls in a
thread pool (the core releases the GIL) and maps its errors to gRPC statuses naming the field."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import grpc
import numpy as np

from sage_native import StreamJoin, TimeSeriesDB
from sage_proto.tsdb.v1 import tsdb_pb2, tsdb_pb2_grpc
from sage_runtime import ServiceSpec
from sage_runtime import errors as err
from sage_runtime.auth import require_admin
from sage_tsdb.config import TSDBConfig
from sage_tsdb.convert import (
    AGGREGATIONS,
    INTERPOLATIONS,
    SIDES,
    WINDOW_TYPES,
    batches_from_proto,
    bounds,
    durable,
    enum,
    field_of,
    group_to_proto,
    non_negative,
    pairs_to_proto,
    require_metric,
    series_to_proto,
)

log = logging.getLogger("sage.tsdb")
T = TypeVar("T")
MAX_LIST = 1000


class TSDBServicer(tsdb_pb2_grpc.TSDBServiceServicer):
    def __init__(self, config: TSDBConfig) -> None:
        self.config = config
        self.db: TimeSeriesDB | None = None
        threads = config.threads or (os.cpu_count() or 2)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tsdb-native")

    def open(self) -> None:
        path = Path(self.config.data_dir) / "tsdb"
        self.db = TimeSeriesDB(
            str(path), self.config.fsync, snapshot_wal_bytes=self.config.snapshot_wal_bytes
        )
        log.info("opened %s: %s", path, self.db.stats())

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self.db is not None:
            self.db.close()

    async def _run(
        self, fn: Callable[..., T], *args: Any, field: str = "", prefix: str = "", **kw: Any
    ) -> T:
        """A native call off the event loop; its ValueError is the caller's bad input."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: fn(*args, **kw))
        except ValueError as exc:
            text = str(exc)
            raise err.invalid_argument(field_of(text, field, prefix), text) from None

    @property
    def _db(self) -> TimeSeriesDB:
        if self.db is None:
            raise err.backend_unavailable("tsdb", "the time-series database is still opening")
        return self.db

    # -- writes and reads ----------------------------------------------------------------------
    async def Write(
        self, request: tsdb_pb2.WriteRequest, context: grpc.aio.ServicerContext
    ) -> tsdb_pb2.WriteResponse:
        sync = durable(request.durability)
        batches, _ = batches_from_proto(request.series, self.config.max_write_points)
        result = await self._run(self._db.write, batches, sync, field="series")
        return tsdb_pb2.WriteResponse(
            points_written=result["written"], points_dropped=result["dropped"]
        )

    async def Query(
        self, request: tsdb_pb2.QueryRequest, context: grpc.aio.ServicerContext
    ) -> tsdb_pb2.QueryResponse:
        metric = require_metric(request.metric)
        start, end = bounds(request.time_range)
        limit = non_negative(request.limit, "limit") or self.config.max_query_points
        limit = min(limit, self.config.max_query_points)
        result = await self._run(
            self._db.query,
            metric,
            request.tag_filter,
            start,
            end,
            limit,
            request.include_vectors,
            request.include_fields,
            field="tag_filter",
        )
        return tsdb_pb2.QueryResponse(
            series=[series_to_proto(s) for s in result["series"]], truncated=result["truncated"]
        )

    async def WindowAggregate(
        self, request: tsdb_pb2.WindowAggregateRequest, context: grpc.aio.ServicerContext
    ) -> tsdb_pb2.WindowAggregateResponse:
        metric = require_metric(request.metric)
        start, end = bounds(request.time_range)
        window_type = enum(request.window_type, WINDOW_TYPES, "window_type")
        aggregation = enum(request.aggregation, AGGREGATIONS, "aggregation")
        interpolation = enum(request.interpolation, INTERPOLATIONS, "interpolation")
        if window_type != "session" and request.window_size_ms <= 0:
            raise err.invalid_argument(
                "window_size_ms",
                f"window_size_ms must be > 0 for {window_type} windows; got "
                f"{request.window_size_ms}",
            )
        percentile = request.percentile if aggregation == "percentile" else 50.0
        groups = await self._run(
            self._db.window_aggregate,
            metric,
            request.tag_filter,
            start,
            end,
            window_type,
            request.window_size_ms,
            request.slide_ms,
            request.session_gap_ms,
            aggregation,
            percentile,
            interpolation,
            list(request.group_by),
            non_negative(request.limit, "limit"),
            field="tag_filter",
        )
        return tsdb_pb2.WindowAggregateResponse(groups=[group_to_proto(g) for g in groups])

    async def StreamJoin(
        self,
        request_iterator: AsyncIterator[tsdb_pb2.StreamJoinRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[tsdb_pb2.StreamJoinResponse]:
        first = None
        async for message in request_iterator:
            first = message
            break
        if first is None or first.WhichOneof("kind") != "config":
            raise err.invalid_argument(
                "config", "the first StreamJoin message must carry the join's config"
            )
        cfg = first.config
        try:
            join = StreamJoin(cfg.window_size_ms, cfg.max_delay_ms)
        except ValueError as exc:
            raise err.invalid_argument(field_of(str(exc), "config", "config."), str(exc)) from None
        late = 0
        async for message in request_iterator:
            if message.WhichOneof("kind") != "events":
                raise err.invalid_argument(
                    "config", "only the first StreamJoin message may carry a config"
                )
            ev = message.events
            side = enum(ev.side, SIDES, "events.side")
            n = len(ev.timestamps_ms)
            if n > self.config.max_join_events:
                raise err.limit_exceeded(
                    "events",
                    f"{n} events in one message; the limit is {self.config.max_join_events} "
                    "(max_join_events), send smaller batches",
                    self.config.max_join_events,
                )
            if len(ev.keys) != n or len(ev.values) != n or (ev.ids and len(ev.ids) != n):
                raise err.invalid_argument(
                    "events.keys",
                    f"events carry {n} timestamps, {len(ev.keys)} keys, {len(ev.values)} values "
                    f"and {len(ev.ids)} ids; send one key and value (and id) per timestamp",
                )
            ids = np.array(ev.ids, dtype=np.int64) if ev.ids else None
            out = await self._run(
                join.push_batch,
                side,
                np.array(ev.timestamps_ms, dtype=np.int64),
                list(ev.keys),
                np.array(ev.values, dtype=np.float64),
                ids,
                field="events",
                prefix="events.",
            )
            late += out["late"]
            yield self._join_response(out, late, join.watermark)
        yield self._join_response(join.flush(), late, join.watermark)

    @staticmethod
    def _join_response(
        out: dict[str, Any], late: int, watermark: int | None
    ) -> tsdb_pb2.StreamJoinResponse:
        reply = tsdb_pb2.StreamJoinResponse(pairs=pairs_to_proto(out), late_events=late)
        if watermark is not None:
            reply.watermark_ms = watermark
        return reply

    # -- series management ---------------------------------------------------------------------
    async def ListSeries(
        self, request: tsdb_pb2.ListSeriesRequest, context: grpc.aio.ServicerContext
    ) -> tsdb_pb2.ListSeriesResponse:
        limit = min(non_negative(request.limit, "limit") or MAX_LIST, MAX_LIST)
        found = await self._run(
            self._db.list_series, request.metric, request.tag_filter, field="tag_filter"
        )
        return tsdb_pb2.ListSeriesResponse(
            series=[
                tsdb_pb2.SeriesInfo(
                    metric=s["metric"],
                    tags=s["tags"],
                    points=s["points"],
                    first_timestamp_ms=s["first_ts"],
                    last_timestamp_ms=s["last_ts"],
                    retention_ms=s["retention_ms"],
                    vector_dimension=s["dim"],
                )
                for s in found[:limit]
            ],
            truncated=len(found) > limit,
        )

    async def DeleteSeries(
        self, request: tsdb_pb2.DeleteSeriesRequest, context: grpc.aio.ServicerContext
    ) -> tsdb_pb2.DeleteSeriesResponse:
        metric = require_metric(request.metric)
        start, end = bounds(request.time_range)
        sync = durable(request.durability)
        n = await self._run(
            self._db.delete_points, metric, request.tag_filter, start, end, sync, field="tag_filter"
        )
        return tsdb_pb2.DeleteSeriesResponse(points_deleted=n)

    async def SetRetention(
        self, request: tsdb_pb2.SetRetentionRequest, context: grpc.aio.ServicerContext
    ) -> tsdb_pb2.SetRetentionResponse:
        metric = require_metric(request.metric)
        retention = non_negative(request.retention_ms, "retention_ms")
        sync = durable(request.durability)
        n = await self._run(
            self._db.set_retention, metric, request.tag_filter, retention, sync, field="tag_filter"
        )
        return tsdb_pb2.SetRetentionResponse(series_updated=n)

    async def Downsample(
        self, request: tsdb_pb2.DownsampleRequest, context: grpc.aio.ServicerContext
    ) -> tsdb_pb2.DownsampleResponse:
        metric = require_metric(request.metric)
        start, end = bounds(request.time_range)
        aggregation = enum(request.aggregation, AGGREGATIONS, "aggregation")
        if request.window_size_ms <= 0:
            raise err.invalid_argument(
                "window_size_ms", f"window_size_ms must be > 0; got {request.window_size_ms}"
            )
        if not request.dest_metric or request.dest_metric == metric:
            raise err.invalid_argument(
                "dest_metric", "dest_metric must name another metric, e.g. 'cpu_1m'"
            )
        sync = durable(request.durability)
        n = await self._run(
            self._db.downsample,
            metric,
            request.tag_filter,
            start,
            end,
            request.window_size_ms,
            aggregation,
            request.dest_metric,
            sync,
            field="tag_filter",
        )
        return tsdb_pb2.DownsampleResponse(points_written=n)

    async def Compact(
        self, request: tsdb_pb2.CompactRequest, context: grpc.aio.ServicerContext
    ) -> tsdb_pb2.CompactResponse:
        await self._run(self._db.compact)
        return tsdb_pb2.CompactResponse(points=self._db.stats()["points"])

    async def Stats(
        self, request: tsdb_pb2.StatsRequest, context: grpc.aio.ServicerContext
    ) -> tsdb_pb2.StatsResponse:
        s = await self._run(self._db.stats)
        return tsdb_pb2.StatsResponse(
            series=s["series"],
            metrics=s["metrics"],
            points=s["points"],
            chunks=s["chunks"],
            bytes=s["bytes"],
            wal_bytes=s["wal_bytes"],
            seq=s["seq"],
            snapshot_seq=s["snapshot_seq"],
            late_points=s["late_points"],
            dropped_retention=s["dropped_retention"],
            fsync=s["fsync"],
        )

    async def Reset(
        self, request: tsdb_pb2.ResetRequest, context: grpc.aio.ServicerContext
    ) -> tsdb_pb2.ResetResponse:
        require_admin("Reset")
        await self._run(self._db.reset)
        return tsdb_pb2.ResetResponse()


def build_spec(config: TSDBConfig) -> ServiceSpec:
    servicer = TSDBServicer(config)

    async def start() -> None:
        await asyncio.to_thread(servicer.open)

    async def stop() -> None:
        await asyncio.to_thread(servicer.close)

    def metadata() -> dict[str, Any]:
        if servicer.db is None:
            return {}
        s = servicer.db.stats()
        return {"series": s["series"], "points": s["points"]}

    return ServiceSpec(
        name="tsdb",
        service_names=(tsdb_pb2.DESCRIPTOR.services_by_name["TSDBService"].full_name,),
        add_servicers=lambda server: tsdb_pb2_grpc.add_TSDBServiceServicer_to_server(
            servicer, server
        ),
        start=start,
        stop=stop,
        metadata=metadata,
    )
