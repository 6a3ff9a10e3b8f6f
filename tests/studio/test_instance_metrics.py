"""What the Mesh page reads of an instance's /metrics: a registry like the services' own,
exposed by prometheus_client, parsed back."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from sage_studio.instance_metrics import parse


def test_calls_errors_and_buckets_summed_over_methods() -> None:
    registry = CollectorRegistry()
    calls = Counter("sage_grpc_calls", "", ["method", "code"], registry=registry)
    latency = Histogram(
        "sage_grpc_call_seconds", "", ["method"], buckets=(0.001, 0.01, 0.1), registry=registry
    )
    calls.labels("/kv/Get", "OK").inc(7)
    calls.labels("/kv/Put", "OK").inc(2)
    calls.labels("/kv/Put", "INVALID_ARGUMENT").inc(1)
    for seconds in (0.0005, 0.0005, 0.005, 0.05, 5.0):
        latency.labels("/kv/Get").observe(seconds)
    latency.labels("/kv/Put").observe(0.0002)
    figures = parse(generate_latest(registry).decode())
    assert (figures["calls"], figures["errors"]) == (10, 1)
    assert figures["latency_buckets"] == [[0.001, 3], [0.01, 4], [0.1, 5], [None, 6]]
    assert figures["start_time"] is None  # this registry has no process collector


def test_the_process_start_time_comes_from_the_default_registry() -> None:
    from prometheus_client import REGISTRY

    figures = parse(generate_latest(REGISTRY).decode())
    assert figures["start_time"] and figures["start_time"] > 1.6e9
