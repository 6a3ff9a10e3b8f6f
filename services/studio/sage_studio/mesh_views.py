"""What the Mesh, Jobs and Data pages read, on the server side through ``sage_client``: the
instances registered in etcd with their health (``sage_deploy.status``, as `sage mesh status`
shows them), the job manager's jobs (``AsyncJobClient``) and the VDB's collections and search
(``AsyncVDBClient``). Studio presents its own service credential to these; the routes that call
them admit admins only (``app.py``)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import grpc

from sage_client import errors as sdk_errors
from sage_client.kv import AsyncKVClient
from sage_client.remote.client import AsyncJobClient
from sage_client.tsdb import AsyncTSDBClient
from sage_client.vdb import AsyncVDBClient
from sage_deploy.status import mesh_status
from sage_studio import instance_metrics
from sage_studio.errors import StudioError

LOG_LINES = 200  # the job page shows the tail of the log
RESULT_ROWS = 100  # records of a finished job's result shown on its page
MAX_SERIES = 500  # series listed on the Data page
CHART_POINTS = 200  # windows a series' chart is drawn from
VALUE_PREVIEW = 200  # characters of a KV value shown in the Data page's table

_HTTP_OF = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
}


def from_sdk(service: str, exc: sdk_errors.SageError) -> StudioError:
    status = _HTTP_OF.get(exc.code, 503)
    hint = "" if status != 503 else f"; is the {service} service up (`sage mesh status`)?"
    return StudioError(status, f"{service}: {exc.code.name}: {exc.message}{hint}", "upstream_error")


@contextlib.contextmanager
def upstream(service: str) -> Iterator[None]:
    """A call to a mesh service: its error as the page's (``from_sdk``), no instance as 503."""
    try:
        yield
    except sdk_errors.SageError as exc:
        raise from_sdk(service, exc) from None
    except LookupError as exc:  # no instance registered
        raise StudioError(503, f"{service}: {exc}", "service_unavailable") from None


class MeshViews:
    def __init__(self, etcd_endpoints: list[str]) -> None:
        self._etcd = etcd_endpoints
        self._jobs: AsyncJobClient | None = None
        self._vdb: AsyncVDBClient | None = None
        self._kv: AsyncKVClient | None = None
        self._tsdb: AsyncTSDBClient | None = None

    async def instances(self) -> dict[str, Any]:
        if not self._etcd:
            raise StudioError(
                503,
                "Studio runs without etcd (SAGE_ETCD_ENDPOINTS): no instances to show",
                "unavailable",
            )
        try:
            rows = await asyncio.to_thread(mesh_status, self._etcd[0], True)
        except Exception as exc:  # noqa: BLE001 - etcd down or refusing: the page says so
            raise StudioError(
                503, f"cannot read etcd at {self._etcd[0]}: {exc}", "service_unavailable"
            ) from None
        figures = await instance_metrics.scrape_all(rows)
        return {
            "object": "list",
            "sampled_at": time.time(),
            "data": [
                {
                    "service": r["service"],
                    "instance": r["instance"],
                    "address": r["address"],
                    "version": r["version"],
                    "health": r["health"],
                    "protocol": r["metadata"].get("protocol", "grpc"),
                    **figure,
                }
                for r, figure in zip(rows, figures, strict=True)
            ],
        }

    def _job_client(self) -> AsyncJobClient:
        if self._jobs is None:
            self._jobs = AsyncJobClient(timeout=10)
        return self._jobs

    def _vdb_client(self) -> AsyncVDBClient:
        if self._vdb is None:
            self._vdb = AsyncVDBClient(timeout=10)
        return self._vdb

    async def jobs(self) -> dict[str, Any]:
        with upstream("kernel"):
            found = [_job(j) async for j in self._job_client().list()]
        return {"object": "list", "data": found}

    async def job(self, job_id: str) -> dict[str, Any]:
        with upstream("kernel"):
            return _job(await self._job_client().get(job_id))

    async def job_graph(self, job_id: str) -> dict[str, Any]:
        """The job's DAG with each operator's latest counters (``sampled_at``: when read, so
        the page computes rates between two reads)."""
        with upstream("kernel"):
            view = await self._job_client().graph(job_id)
        return {
            "object": "job_graph",
            "job": dataclasses.asdict(view.job),
            "operators": [dataclasses.asdict(op) for op in view.operators],
            "edges": [dataclasses.asdict(e) for e in view.edges],
            "sampled_at": time.time(),
        }

    async def job_logs(self, job_id: str) -> dict[str, Any]:
        """The job's last ``LOG_LINES`` log lines (what the worker printed), oldest first."""
        lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        with upstream("kernel"):
            async for event in self._job_client().events(job_id, follow=False):
                if event.WhichOneof("event") == "log_line":
                    lines.append(event.log_line)
        return {"object": "list", "data": list(lines)}

    async def job_result(self, job_id: str) -> dict[str, Any]:
        """The first ``RESULT_ROWS`` records that reached the job's sinks, each as JSON text
        (the job manager keeps them for a job submitted with collect_result)."""
        with upstream("kernel"):
            records = await self._job_client().result(job_id)
        return {
            "object": "list",
            "total": len(records),
            "data": [json.dumps(r, default=repr)[:VALUE_PREVIEW] for r in records[:RESULT_ROWS]],
        }

    async def run_pipeline(self, data: Any) -> dict[str, Any]:
        """Build a Builder spec into a graph here (catalogue operators only: no code comes
        from the page) and submit it to the job manager, keeping its result."""
        from sage_client import LocalEnvironment
        from sage_client.pipeline_spec import SpecError, build, parse

        try:
            spec = parse(data)
        except SpecError as exc:
            raise StudioError(400, f"the pipeline is not valid: {exc}") from None
        env = build(spec, LocalEnvironment(spec.name))  # only builds the graph
        with upstream("kernel"):
            handle = await self._job_client().submit(env.graph, collect_result=True)
        return {"object": "job", "id": handle.id, "name": spec.name}

    async def act(self, job_id: str, verb: str) -> dict[str, Any]:
        """``cancel``, ``pause`` or ``resume`` a job; its state after."""
        client = self._job_client()
        call = {"cancel": client.cancel, "pause": client.pause, "resume": client.resume}[verb]
        with upstream("kernel"):
            return _job(await call(job_id))

    def _kv_client(self) -> AsyncKVClient:
        if self._kv is None:
            self._kv = AsyncKVClient(timeout=10)
        return self._kv

    async def kv_page(
        self, namespace: str, prefix: str, page_size: int, page_token: str
    ) -> dict[str, Any]:
        """One page of a KV namespace's entries under ``prefix``: each value as text when it is
        UTF-8 (cut at ``VALUE_PREVIEW`` characters), else its size; the namespaces services
        own (gateway keys, sessions, memories) are refused by the KV itself."""
        with upstream("kv"):
            page = await self._kv_client().scan_page(
                prefix, page_size=page_size, page_token=page_token, namespace=namespace
            )
        return {
            "object": "list",
            "namespace": namespace,
            "data": [_kv_entry(e.key, e.value, e.version, e.ttl_ms) for e in page.entries],
            "next_page_token": page.next_page_token,
        }

    def _tsdb_client(self) -> AsyncTSDBClient:
        if self._tsdb is None:
            self._tsdb = AsyncTSDBClient(timeout=10)
        return self._tsdb

    async def tsdb_series(self) -> dict[str, Any]:
        """The TSDB's series (at most ``MAX_SERIES``): metric, tags, points, time span."""
        with upstream("tsdb"):
            found = await self._tsdb_client().list_series(limit=MAX_SERIES)
        return {"object": "list", "data": [dataclasses.asdict(series) for series in found]}

    async def tsdb_chart(self, metric: str, tags: dict[str, str]) -> dict[str, Any]:
        """One series over its whole span as at most ``CHART_POINTS`` window averages (the
        TSDB's tumbling windows; the chart's x is each window's start)."""
        tag_filter = " AND ".join(f'{k}="{v}"' for k, v in sorted(tags.items()))
        client = self._tsdb_client()
        with upstream("tsdb"):
            series = await client.list_series(metric, tag_filter=tag_filter, limit=2)
            exact = [s for s in series if s.tags == tags]
            if not exact:
                raise StudioError(404, f"no series {metric} {tags} in the TSDB", "not_found")
            info = exact[0]
            span = info.last_timestamp_ms - info.first_timestamp_ms + 1
            window = max(1, -(-span // CHART_POINTS))
            groups = await client.window_aggregate(
                metric,
                window_size_ms=window,
                aggregation="avg",
                tag_filter=tag_filter,
                start=info.first_timestamp_ms,
                end=info.last_timestamp_ms + 1,
                group_by=sorted(tags),
            )
        points = [
            [int(t), float(v)]
            for g in groups
            if g.group == tags or not tags
            for t, v in zip(g.start, g.values, strict=True)
            if math.isfinite(v)
        ]
        return {
            "object": "chart",
            "metric": metric,
            "tags": tags,
            "window_ms": window,
            "points": sorted(points),
        }

    async def collections(self) -> dict[str, Any]:
        with upstream("vdb"):
            found = await self._vdb_client().list_collections()
        return {
            "object": "list",
            "data": [
                {
                    "name": c.name,
                    "dimension": c.dimension,
                    "metric": c.metric,
                    "count": c.count,
                    "embedding_model": c.embedding_model,
                }
                for c in found
            ],
        }

    async def search(
        self, collection: str, text: str, top_k: int, where: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A text search, optionally filtered on metadata (the VDB's filter syntax, e.g.
        ``{"lang": "en"}`` or ``{"year": {"$gte": 2020}}``; a bad filter is the VDB's 400)."""
        with upstream("vdb"):
            results = await self._vdb_client().search_text(
                collection, [text], top_k=top_k, where=where, include=("metadatas", "documents")
            )
        result = results[0]
        metadatas = result.metadatas or [{} for _ in result.ids]
        documents = result.documents or ["" for _ in result.ids]
        hits = [
            {
                "id": hit_id,
                "score": score if math.isfinite(score) else None,
                "metadata": metadatas[i] or {},
                "document": documents[i] or "",
            }
            for i, (hit_id, score) in enumerate(zip(result.ids, result.scores, strict=True))
        ]
        return {"object": "list", "collection": collection, "data": hits}

    async def close(self) -> None:
        for client in (self._jobs, self._vdb, self._kv, self._tsdb):
            if client is not None:
                await client.close()


def _job(info: Any) -> dict[str, Any]:
    return dataclasses.asdict(info)


def _kv_entry(key: str, value: bytes, version: int, ttl_ms: int) -> dict[str, Any]:
    try:
        text: str | None = value.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {
        "key": key,
        "version": version,
        "ttl_ms": ttl_ms,
        "size": len(value),
        "text": None if text is None else text[:VALUE_PREVIEW],
        "truncated": text is not None and len(text) > VALUE_PREVIEW,
    }
