"""Prometheus metrics of the server runtime, served on an HTTP /metrics port."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

CALLS = Counter("sage_grpc_calls_total", "gRPC calls handled", ["method", "code"])
LATENCY = Histogram(
    "sage_grpc_call_seconds",
    "gRPC call latency",
    ["method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_FLIGHT = Gauge("sage_grpc_in_flight", "gRPC calls in progress")


def serve_metrics(host: str, port: int) -> int:
    """Start the /metrics HTTP server; return the bound port."""
    server, _thread = start_http_server(port, addr=host)
    return int(server.server_port)
