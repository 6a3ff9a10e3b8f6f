#!/usr/bin/env python3
"""KV service throughput and latency against the ceiling of the server stack
(an Echo RPC on the same runtime) and against redis-py pipelining on the same
redis-server. Starts its own redis-server and KV service on loopback ports.

    python bench/kv.py [--quick] [--backend memory|redis]

The last stdout line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)
import grpc
import redis
import redis.asyncio as aioredis

from sage_deploy import infra
from sage_deploy.processes import ManagedProcess, free_port
from sage_proto.common.v1 import common_pb2, common_pb2_grpc
from sage_proto.kv.v1 import kv_pb2, kv_pb2_grpc

IN_FLIGHT = 16
KEYS = 10_000
VALUE = b"v" * 100
BATCH = 100


async def closed_loop(
    seconds: float, call, record_latency: bool = False
) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    """IN_FLIGHT workers call ``call()`` back to back for ``seconds``; returns (calls/s, latencies ms)."""
    latencies: list[float] = []
    count = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal count
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            await call()
            if record_latency:
                latencies.append((time.perf_counter() - t0) * 1000)
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return count / (time.perf_counter() - start), latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def bench_service(
    address: str, seconds: float, md: tuple[tuple[str, str], ...] = ()
) -> dict[str, float]:
    """The service's figures, every call carrying ``md`` (its credential; empty with auth off)."""
    options = [("grpc.max_receive_message_length", 64 << 20)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        kv = kv_pb2_grpc.KVServiceStub(channel)
        diag = common_pb2_grpc.DiagnosticsServiceStub(channel)
        keys = [f"key-{i:05d}" for i in range(KEYS)]
        for i in range(0, KEYS, 1000):
            await kv.BatchPut(
                kv_pb2.BatchPutRequest(
                    namespace="bench", keys=keys[i : i + 1000], values=[VALUE] * 1000
                ),
                metadata=md,
            )
        rnd = random.Random(7)
        echo_req = common_pb2.EchoRequest(payload=b"x" * 16)
        await closed_loop(
            min(1.0, seconds / 3), lambda: diag.Echo(echo_req, metadata=md)
        )  # warm-up

        echo_rps, _ = await closed_loop(seconds, lambda: diag.Echo(echo_req, metadata=md))
        get_rps, lat = await closed_loop(
            seconds,
            lambda: kv.Get(
                kv_pb2.GetRequest(namespace="bench", key=keys[rnd.randrange(KEYS)]), metadata=md
            ),
            True,
        )
        put_rps, _ = await closed_loop(
            seconds,
            lambda: kv.Put(
                kv_pb2.PutRequest(namespace="bench", key=keys[rnd.randrange(KEYS)], value=VALUE),
                metadata=md,
            ),
        )

        def batch():  # type: ignore[no-untyped-def]
            start = rnd.randrange(KEYS - BATCH)
            return kv.BatchGet(
                kv_pb2.BatchGetRequest(namespace="bench", keys=keys[start : start + BATCH]),
                metadata=md,
            )

        batch_rps, _ = await closed_loop(seconds, batch)
    return {
        "echo_rps": echo_rps,
        "get_rps": get_rps,
        "put_rps": put_rps,
        "get_p50_ms": percentile(lat, 0.5),
        "get_p99_ms": percentile(lat, 0.99),
        "batch_get_keys_per_s": batch_rps * BATCH,
    }


def bench_redis_pipeline(port: int, seconds: float) -> dict[str, float]:
    """What a user would write instead: redis-py pipelining 100 GETs (best of one blocking client and
    IN_FLIGHT asyncio clients)."""
    sync = redis.Redis(port=port)
    keys = [f"rk-{i:05d}" for i in range(KEYS)]
    pipe = sync.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, VALUE)
    pipe.execute()
    rnd = random.Random(7)
    count, stop_at = 0, time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < stop_at:
        first = rnd.randrange(KEYS - BATCH)
        pipe = sync.pipeline(transaction=False)
        for key in keys[first : first + BATCH]:
            pipe.get(key)
        pipe.execute()
        count += 1
    sync_rate = count * BATCH / (time.perf_counter() - start)
    sync.close()

    async def concurrent() -> float:
        client = aioredis.Redis(port=port, max_connections=IN_FLIGHT)

        async def call() -> None:
            first = rnd.randrange(KEYS - BATCH)
            p = client.pipeline(transaction=False)
            for key in keys[first : first + BATCH]:
                p.get(key)
            await p.execute()

        rate, _ = await closed_loop(seconds, call)
        await client.aclose()
        return rate * BATCH

    return {
        "redis_pipeline_keys_per_s": max(sync_rate, asyncio.run(concurrent())),
        "redis_pipeline_sync_keys_per_s": sync_rate,
    }


def main() -> None:
    bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases (about 40 s in all)")
    parser.add_argument("--backend", choices=["memory", "redis"], default="memory")
    args = parser.parse_args()
    seconds = 4.0 if args.quick else 15.0
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        redis_port = free_port()
        redis_proc = infra.redis_process(run, redis_port).start()
        infra.wait_port(redis_proc, redis_port)

        def start_kv(name: str, extra: dict[str, str]) -> ManagedProcess:
            env = {
                "SAGE_BACKEND": args.backend,
                "SAGE_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "SAGE_LOG_LEVEL": "WARNING",
                "SAGE_PORT": "0",
                "SAGE_READY_FILE": str(run / f"{name}.ready"),
                **extra,
            }
            return ManagedProcess(
                name,
                [sys.executable, "-m", "sage_kv"],
                run / f"{name}.log",
                env=env,
                ready_file=run / f"{name}.ready",
            ).start()

        kv, kv_open = start_kv("kv", {}), start_kv("kv-no-auth", bench_auth.NO_AUTH)
        try:
            address = kv.wait_ready_file(60)["address"]
            open_address = kv_open.wait_ready_file(60)["address"]
            print(
                f"KV ({args.backend} backend) at {address} (auth off: {open_address}); {IN_FLIGHT} calls in "
                f"flight, {seconds:.0f} s per phase",
                file=sys.stderr,
            )
            figures = asyncio.run(bench_service(address, seconds, bench_auth.metadata()))
            open_figures = asyncio.run(bench_service(open_address, seconds))
            figures.update({f"{k}_no_auth": v for k, v in open_figures.items()})
            figures.update(bench_redis_pipeline(redis_port, seconds))
        finally:
            kv.stop()
            kv_open.stop()
            redis_proc.stop()
    figures = {k: round(v, 3) if "ms" in k else round(v) for k, v in figures.items()}
    figures.update(
        {
            "get_vs_echo": round(figures["get_rps"] / figures["echo_rps"], 3),
            "get_rps_vs_no_auth": round(figures["get_rps"] / figures["get_rps_no_auth"], 3),
            "targets": {
                "get_rps>=0.9*get_rps_no_auth": figures["get_rps"]
                >= 0.9 * figures["get_rps_no_auth"]
            },
            "batch_get_vs_redis_pipeline": round(
                figures["batch_get_keys_per_s"] / figures["redis_pipeline_keys_per_s"], 3
            ),
            "backend": args.backend,
            "in_flight": IN_FLIGHT,
            "batch": BATCH,
            "seconds_per_phase": seconds,
            "grpcio": grpc.__version__,
            "redis_py": redis.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        }
    )
    for key, value in figures.items():
        print(f"  {key:<32} {value}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
