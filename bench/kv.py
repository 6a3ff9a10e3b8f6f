#!/usr/bin/env python3
"""KV service throughput and latency, for both backends, against the ceiling of the server stack
and against what a competent redis-py user writes on the same redis-server.

What runs (one redis-server with the mesh's ACL, as deployed; all on loopback):
- the KV service with the ``memory`` backend (auth on, and a second one with auth off), and with
  the ``redis`` backend (auth on: what `sage mesh up` deploys; values carry versions and TTLs);
- closed loops of IN_FLIGHT=16 asyncio callers per phase: Echo (the runtime's ceiling), Get,
  Put, BatchGet of 100 keys; open loops of Get at 50% and 80% of the measured closed-loop Get rate
  (latency counted from each call's scheduled arrival);
- server CPU-µs per Get and per Echo from the KV process's utime+stime over the phase (does not
  depend on the Python load generator), the service's RSS after the run and its cold start
  (process start to ready file);
- peers on the same Redis, same 100-key batches: redis-py pipelined GETs and redis-py MGET
  (hiredis installed when available: ``redis_py_parser`` says which parser ran), each the best of
  one blocking client and IN_FLIGHT asyncio clients; ``redis-benchmark -P 16`` GET and 100-key
  MGET as the server's own ceiling (50 connections, C client).

    python bench/kv.py [--quick]

The last stdout line is one JSON object. Unsuffixed figures are the memory backend (as before);
``*_redis`` the Redis backend; ``*_no_auth`` the memory backend with auth off; ``*_sentinel`` the
Redis backend on a Sentinel set (a primary and a replica with ``appendfsync always``, three
sentinels, ``sage_deploy.redis_ha``; no WAIT), the primary found through the sentinels.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)
import grpc
import redis
import redis.asyncio as aioredis
from measure import ProcessCPU, closed_loop, open_loop, percentile, rss_mb

from sage_deploy import infra, redis_ha
from sage_deploy.processes import ManagedProcess, free_port
from sage_deploy.secrets import load as load_secrets
from sage_proto.common.v1 import common_pb2, common_pb2_grpc
from sage_proto.kv.v1 import kv_pb2, kv_pb2_grpc

IN_FLIGHT = 16
KEYS = 10_000
VALUE = b"v" * 100
BATCH = 100


async def bench_service(
    address: str,
    seconds: float,
    pid: int,
    md: tuple[tuple[str, str], ...] = (),
    open_loop_seconds: float = 0.0,
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

        def get():  # type: ignore[no-untyped-def]
            return kv.Get(
                kv_pb2.GetRequest(namespace="bench", key=keys[rnd.randrange(KEYS)]), metadata=md
            )

        def put():  # type: ignore[no-untyped-def]
            key = keys[rnd.randrange(KEYS)]
            return kv.Put(kv_pb2.PutRequest(namespace="bench", key=key, value=VALUE), metadata=md)

        def batch():  # type: ignore[no-untyped-def]
            start = rnd.randrange(KEYS - BATCH)
            return kv.BatchGet(
                kv_pb2.BatchGetRequest(namespace="bench", keys=keys[start : start + BATCH]),
                metadata=md,
            )

        await closed_loop(min(1.0, seconds / 3), lambda: diag.Echo(echo_req, metadata=md), 16)
        with ProcessCPU(pid) as echo_cpu:
            echo_rps, _ = await closed_loop(
                seconds, lambda: diag.Echo(echo_req, metadata=md), IN_FLIGHT
            )
        with ProcessCPU(pid) as get_cpu:
            get_rps, lat = await closed_loop(seconds, get, IN_FLIGHT, True)
        put_rps, _ = await closed_loop(seconds, put, IN_FLIGHT)
        batch_rps, _ = await closed_loop(seconds, batch, IN_FLIGHT)
        figures = {
            "echo_rps": echo_rps,
            "get_rps": get_rps,
            "put_rps": put_rps,
            "get_p50_ms": percentile(lat, 0.5),
            "get_p99_ms": percentile(lat, 0.99),
            "batch_get_keys_per_s": batch_rps * BATCH,
            "echo_server_cpu_us": echo_cpu.us_per(echo_rps * seconds),
            "get_server_cpu_us": get_cpu.us_per(get_rps * seconds),
        }
        for share in (0.5, 0.8) if open_loop_seconds else ():
            result = await open_loop(share * get_rps, open_loop_seconds, get)
            tag = f"open_loop_get_{int(share * 100)}pct"
            figures[f"{tag}_p50_ms"] = result.p50_ms
            figures[f"{tag}_p99_ms"] = result.p99_ms
            figures[f"{tag}_offered_rps"] = result.rate
            figures[f"{tag}_achieved_rps"] = result.achieved
    return figures


def _fill(client: redis.Redis) -> list[str]:
    keys = [f"rk-{i:05d}" for i in range(KEYS)]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, VALUE)
    pipe.execute()
    return keys


def bench_redis_py(url: str, seconds: float) -> dict[str, float]:
    """What a user would write instead, 100 keys a round trip: pipelined GETs and one MGET, each
    the best of one blocking client and IN_FLIGHT asyncio clients on one pool."""
    sync = redis.Redis.from_url(url)
    keys = _fill(sync)
    rnd = random.Random(7)

    def window() -> list[str]:
        first = rnd.randrange(KEYS - BATCH)
        return keys[first : first + BATCH]

    def sync_rate(round_trip) -> float:  # type: ignore[no-untyped-def]
        count, stop_at = 0, time.perf_counter() + seconds
        start = time.perf_counter()
        while time.perf_counter() < stop_at:
            round_trip()
            count += 1
        return count * BATCH / (time.perf_counter() - start)

    def pipeline_round() -> None:
        pipe = sync.pipeline(transaction=False)
        for key in window():
            pipe.get(key)
        pipe.execute()

    pipeline_sync = sync_rate(pipeline_round)
    mget_sync = sync_rate(lambda: sync.mget(window()))
    sync.close()

    async def concurrent(kind: str) -> float:
        client = aioredis.Redis.from_url(url, max_connections=IN_FLIGHT)

        async def call() -> None:
            if kind == "mget":
                await client.mget(window())
                return
            p = client.pipeline(transaction=False)
            for key in window():
                p.get(key)
            await p.execute()

        rate, _ = await closed_loop(seconds, call, IN_FLIGHT)
        await client.aclose()
        return rate * BATCH

    return {
        "redis_pipeline_keys_per_s": max(pipeline_sync, asyncio.run(concurrent("pipeline"))),
        "redis_pipeline_sync_keys_per_s": pipeline_sync,
        "redis_mget_keys_per_s": max(mget_sync, asyncio.run(concurrent("mget"))),
        "redis_mget_sync_keys_per_s": mget_sync,
    }


def redis_benchmark(port: int, user: str, password: str, requests: int) -> dict[str, float]:
    """redis-benchmark (C, 50 connections, -P 16) GET and 100-key MGET: the server's ceiling."""
    tool = shutil.which("redis-benchmark")
    if tool is None:
        return {}
    base = [tool, "-h", "127.0.0.1", "-p", str(port), "--user", user, "-a", password]
    base += ["-P", "16", "-r", str(KEYS), "--csv", "-q"]
    subprocess.run(base + ["-n", str(KEYS * 2), "-d", "100", "-t", "set"], capture_output=True)

    def rps(argv: list[str]) -> float:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        rows = [r for r in csv.reader(io.StringIO(out)) if len(r) > 1 and r[0] != "test"]
        return float(rows[-1][1])

    get = rps(base + ["-n", str(requests), "-t", "get"])
    mget = rps(base + ["-n", str(requests // 20), "MGET"] + ["key:__rand_int__"] * BATCH)
    return {"redis_benchmark_get_rps": get, "redis_benchmark_mget_keys_per_s": mget * BATCH}


def main() -> None:
    secrets_file = bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases (about a minute)")
    args = parser.parse_args()
    seconds = 2.5 if args.quick else 12.0
    open_seconds = 2.0 if args.quick else 8.0
    secrets = load_secrets(secrets_file)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        redis_port = free_port()
        redis_proc = infra.redis_process(run, redis_port, secrets=secrets).start()
        infra.wait_port(redis_proc, redis_port)
        url = infra.redis_url(redis_port, secrets)
        (run / "logs").mkdir(exist_ok=True)
        ha_ports = [free_port() for _ in range(5)]  # primary, replica, three sentinels
        ha_procs = [redis_ha.node_process(run, ha_ports[0], "ha-primary", secrets).start()]
        ha_procs.append(
            redis_ha.node_process(run, ha_ports[1], "ha-replica", secrets, ha_ports[0]).start()
        )
        ha_procs += [
            redis_ha.sentinel_process(run, port, f"ha-sentinel-{k}", ha_ports[0], secrets).start()
            for k, port in enumerate(ha_ports[2:])
        ]
        for proc, port in zip(ha_procs, ha_ports, strict=True):
            infra.wait_port(proc, port)

        def start_kv(
            name: str, backend: str, extra: dict[str, str]
        ) -> tuple[ManagedProcess, str, float]:
            env = {
                "SAGE_BACKEND": backend,
                "SAGE_REDIS_URL": url,
                "SAGE_LOG_LEVEL": "WARNING",
                "SAGE_PORT": "0",
                "SAGE_READY_FILE": str(run / f"{name}.ready"),
                **extra,
            }
            t0 = time.perf_counter()
            proc = ManagedProcess(
                name,
                [sys.executable, "-m", "sage_kv"],
                run / f"{name}.log",
                env=env,
                ready_file=run / f"{name}.ready",
            ).start()
            address = proc.wait_ready_file(60)["address"]
            return proc, address, time.perf_counter() - t0

        started = [
            start_kv("kv", "memory", {}),
            start_kv("kv-no-auth", "memory", bench_auth.NO_AUTH),
            start_kv("kv-redis", "redis", {}),
            start_kv(
                "kv-sentinel",
                "redis",
                {
                    "SAGE_REDIS_URL": infra.redis_url(ha_ports[0], secrets),
                    "SAGE_REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in ha_ports[2:]),
                },
            ),
        ]
        (kv, address, cold_s), (kv_open, open_address, _), (kv_redis, redis_address, _) = started[
            :3
        ]
        kv_sentinel, sentinel_address, _ = started[3]
        md = bench_auth.metadata()
        try:
            print(
                f"KV memory at {address} (auth off: {open_address}), redis backend at "
                f"{redis_address}; {IN_FLIGHT} calls in flight, {seconds:.1f} s per phase",
                file=sys.stderr,
            )
            figures: dict[str, float] = {"cold_start_s": cold_s}
            figures.update(asyncio.run(bench_service(address, seconds, kv.pid, md, open_seconds)))
            figures["rss_mb"] = rss_mb(kv.pid)
            open_figures = asyncio.run(bench_service(open_address, seconds, kv_open.pid))
            figures.update({f"{k}_no_auth": v for k, v in open_figures.items()})
            redis_figures = asyncio.run(bench_service(redis_address, seconds, kv_redis.pid, md))
            figures.update({f"{k}_redis": v for k, v in redis_figures.items()})
            figures["rss_mb_redis"] = rss_mb(kv_redis.pid)
            sentinel_figures = asyncio.run(
                bench_service(sentinel_address, seconds, kv_sentinel.pid, md)
            )
            figures.update(
                {f"{k}_sentinel": sentinel_figures[k] for k in ("get_rps", "put_rps", "get_p99_ms")}
            )
            figures.update(bench_redis_py(url, seconds))
            app_user = infra.REDIS_APP_USER
            figures.update(
                redis_benchmark(
                    redis_port,
                    app_user,
                    secrets["redis"]["users"][app_user],
                    100_000 if args.quick else 1_000_000,
                )
            )
        finally:
            kv.stop()
            kv_open.stop()
            kv_redis.stop()
            kv_sentinel.stop()
            redis_proc.stop()
            for proc in ha_procs:
                proc.stop()
    figures = {
        k: round(v, 3) if ("ms" in k or "_s" in k[-2:] or "cpu_us" in k) else round(v)
        for k, v in figures.items()
    }
    parser_name = redis.utils.HIREDIS_AVAILABLE and "hiredis" or "python"
    figures.update(
        {
            "get_vs_echo": round(figures["get_rps"] / figures["echo_rps"], 3),
            "get_rps_vs_no_auth": round(figures["get_rps"] / figures["get_rps_no_auth"], 3),
            "batch_get_vs_redis_pipeline": round(
                figures["batch_get_keys_per_s"] / figures["redis_pipeline_keys_per_s"], 3
            ),
            "batch_get_redis_vs_redis_mget": round(
                figures["batch_get_keys_per_s_redis"] / figures["redis_mget_keys_per_s"], 3
            ),
            "get_rps_sentinel_vs_redis": round(
                figures["get_rps_sentinel"] / figures["get_rps_redis"], 3
            ),
            "targets": {
                "get_rps_sentinel>=0.8*get_rps_redis": figures["get_rps_sentinel"]
                >= 0.8 * figures["get_rps_redis"],
                "get_rps>=0.9*get_rps_no_auth": figures["get_rps"]
                >= 0.9 * figures["get_rps_no_auth"],
                "batch_get_keys_per_s>=redis_pipeline_keys_per_s": figures["batch_get_keys_per_s"]
                >= figures["redis_pipeline_keys_per_s"],
                "batch_get_keys_per_s_redis>=0.5*redis_mget_keys_per_s": figures[
                    "batch_get_keys_per_s_redis"
                ]
                >= 0.5 * figures["redis_mget_keys_per_s"],
            },
            "n": KEYS,
            "quick": args.quick,
            "in_flight": IN_FLIGHT,
            "batch": BATCH,
            "seconds_per_phase": seconds,
            "redis_py_parser": parser_name,
            "grpcio": grpc.__version__,
            "redis_py": redis.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        }
    )
    for key, value in figures.items():
        print(f"  {key:<40} {value}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
