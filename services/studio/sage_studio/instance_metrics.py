"""What the Mesh page shows of each instance beyond its health: read from the Prometheus
``/metrics`` port it registered in etcd (``metadata.metrics_port``, bound to the instance's
host), at the moment of the read. Cumulative figures only: the page computes calls/s and
windowed p50/p99 from two reads (the difference of the counters and of the histogram buckets),
so Studio keeps no state per instance.

- ``start_time``: the process's start (``process_start_time_seconds``), for the uptime;
- ``calls``: gRPC calls handled (``sage_grpc_calls_total`` over methods and codes), ``errors``
  those whose code is not OK;
- ``latency_buckets``: ``[[upper bound in seconds, calls at or under it], ...]`` summed over
  methods (``sage_grpc_call_seconds``), the last bound ``Infinity`` as ``null``.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

SCRAPE_TIMEOUT_S = 1.0  # a slow or stopped instance must not hold the page
MAX_BYTES = 1 << 20


def parse(text: str) -> dict[str, Any]:
    start_time: float | None = None
    calls = errors = 0.0
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "process_start_time_seconds":
                start_time = float(sample.value)
            elif sample.name == "sage_grpc_calls_total":
                calls += sample.value
                if sample.labels.get("code", "OK") != "OK":
                    errors += sample.value
            elif sample.name == "sage_grpc_call_seconds_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return {
        "start_time": start_time,
        "calls": int(calls),
        "errors": int(errors),
        "latency_buckets": [
            [None if math.isinf(b) else b, int(n)] for b, n in sorted(buckets.items())
        ],
    }


async def scrape(client: httpx.AsyncClient, address: str, metrics_port: Any) -> dict[str, Any]:
    """One instance's figures; ``{"metrics_error": ...}`` when they cannot be read."""
    if not isinstance(metrics_port, int) or not 0 < metrics_port < 65536:
        return {"metrics_error": "no metrics port registered"}
    host = address.rsplit(":", 1)[0]
    try:
        reply = await client.get(f"http://{host}:{metrics_port}/metrics")
        reply.raise_for_status()
        if len(reply.content) > MAX_BYTES:
            return {"metrics_error": "the metrics page is too large"}
        return parse(reply.text)
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return {"metrics_error": f"cannot read {host}:{metrics_port}/metrics: {exc}"}


async def scrape_all(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=SCRAPE_TIMEOUT_S) as client:
        return await asyncio.gather(
            *(scrape(client, r["address"], r["metadata"].get("metrics_port")) for r in rows)
        )
