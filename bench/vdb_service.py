"""The VDB service over gRPC against its own ceiling (the native core in-process) and the peers a
user would pick instead, on the same data in the same run.

    python bench/vdb_service.py            # 100k x 384, HNSW (M=16, ef_construction=200, ef_search=64)
    python bench/vdb_service.py --quick    # 4k x 384, short phases (about a minute)

Figures (last stdout line, one JSON object):
  qps_nq1, p50_ms_nq1      one query per RPC, 16 in flight (grpc.aio, prebuilt requests)
  qps_nq16                 queries/s with 16 queries per RPC, 4 RPCs in flight
  envoy_p50_ms_nq1         the same nq1 load through Envoy's VDB passthrough listener (L4, tcp_proxy:
                           the data plane's route; EDS file pointing at the service), envoy_qps_nq1
                           its calls/s; envoy_l7_p50_ms_nq1 / envoy_l7_qps_nq1 through Envoy's L7
                           route (HTTP/2 routed by service)
  envoy_hop_p50_ms         what the passthrough hop adds per call: the nq1 load with callers
                           alternating call by call between direct and Envoy, so both paths see the
                           same moments, Envoy's p50 minus direct's; envoy_l7_hop_p50_ms the same
                           for the L7 route
                           (these: medians over interleaved rounds of the loads)
  qps_nq1_no_auth          auth's cost: the nq1 load with callers alternating call by call between
                           calls carrying the admin token (verified; qps_nq1_auth_mixed) and calls
                           without one (served as anonymous: the bench's instance also allows
                           anonymous callers), so both see the same moments; auth_p50_ms the p50
                           difference. Every other load carries the token, as a deployed caller does.
  open_loop_nq1_{50,80}pct_{p50,p99}_ms
                           open loop: nq1 searches arriving at a fixed rate, 50% and 80% of the
                           measured qps_nq1, for half a phase's seconds; each latency from the
                           call's scheduled arrival (no coordinated omission); *_offered_qps and
                           *_achieved_qps beside them
  h2load_qps_nq1           the nq1 load from h2load (nghttp2's C load generator: one HTTP/2
                           connection, 16 streams, the same query each call), so the Python client
                           is not half the CPU; h2load_mean_ms_nq1 its mean latency;
                           h2load_envoy_l7_qps_nq1 the same through Envoy's L7 route. Each reply's
                           body is checked to be a search result (a gRPC error is a 200 to h2load)
  recall_at_10             the service's top-10 against brute force (exact inner product on the unit
                           vectors, i.e. cosine), 200 queries; gate recall_at_10>=0.95 in targets
  upsert_vectors_per_s     client-streaming bulk load (UpsertStream), HNSW built as it loads
  service_rss_mb           the VDB service process's resident set (VmRSS, MiB) right after that load
                           (n vectors: 100k x 384, or the --quick size), before any search
  reopen_s                 time to reopen the collection after a restart: once the loads are done and
                           the collection flushed, the service is stopped with SIGTERM (graceful) and
                           started again the same way (ManagedProcess, same data dir); seconds from
                           that start until the first Search RPC on the collection succeeds (the
                           ready file is polled every 50 ms, the Search retried every 10 ms);
                           service_rss_mb_reopened its resident set just after that first search
  inproc_qps_1             the native core in this process, one query per call (the ceiling), from
                           one thread; inproc_qps_1_thread is the same figure under a plainer name
  inproc_qps_all_cores     the same calls from inproc_threads caller threads at once, one per core
                           this process may run on (Collection.search releases the GIL while it
                           searches; OMP_NUM_THREADS=1, as in the service)
  milvus_lite_qps_nq1      milvus-lite (Milvus's embedded server) via pymilvus MilvusClient, one query
                           per search, 16 threads in flight. Set up as a competent user would: an
                           explicit schema (INT64 id, FLOAT_VECTOR) and an HNSW index with our build
                           parameters (M=16, efConstruction=200) and metric (COSINE), consistency
                           "Eventually", rows inserted 5000 per call, then flush and load_collection;
                           every search passes ef=64 and asks for the id only (milvus-lite 3 returns
                           the vectors too by default). Timing starts only once milvus-lite is idle
                           after loading (its compaction and index builds run in the background).
                           milvus-lite 3 serves from threads inside this process (milvus-lite 2 ran a
                           child server process), so its clients and its server share one GIL.
  milvus_lite_recall_at_10 its top-10 (ef=64) against the same brute force, the same 200 queries
  milvus_lite_idle_wait_s  the wait for that idle point: the CPU time of this process plus any
                           descendant process named milvus*, sampled over 1 s windows until one
                           window uses under 5% of a core (seconds waited, that window included;
                           at most 60 s, milvus_lite_idle_reached false if it never went idle)
  chroma_qps_1             embedded ChromaDB (HNSW, cosine), one query per call
  embed_ms_per_text        the LLM service's Embed RPC (all-MiniLM-L6-v2 on CPU), 64 texts per call
  memory_store_p50_ms, memory_search_p50_ms   bench/memory.py (its own KV + VDB + LLM + Memory stack,
                           precomputed vectors so embedding time is excluded), run as a child
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)
import grpc
import numpy as np
from measure import open_loop

from sage_client.vdb import VDBClient
from sage_deploy import envoy_config, infra
from sage_deploy.processes import ManagedProcess, free_port
from sage_proto.vdb.v1 import vdb_pb2, vdb_pb2_grpc

DIM = 384
TOP_K = 10
IN_FLIGHT = 16
HNSW = {"type": "hnsw", "M": 16, "ef_construction": 200, "ef_search": 64}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def dataset(n: int, nq: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    # Clustered data (like sentence embeddings) rather than uniform noise.
    centers = rng.standard_normal((64, DIM)).astype(np.float32)
    data = centers[rng.integers(0, 64, n)] + 0.5 * rng.standard_normal((n, DIM)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = centers[rng.integers(0, 64, nq)] + 0.5 * rng.standard_normal((nq, DIM)).astype(
        np.float32
    )
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return data, queries.astype(np.float32)


async def _callers(
    seconds: float, in_flight: int, paths: Sequence[Callable[[int], Awaitable[Any]]]
) -> list[list[float]]:
    """``in_flight`` workers call back to back for ``seconds``, each turning from one path to the
    next call by call; the latencies (ms) of each path."""
    latencies: list[list[float]] = [[] for _ in paths]
    stop_at = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        i = w
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            side = (i // in_flight) % len(paths)
            await paths[side](i)
            latencies[side].append((time.perf_counter() - t0) * 1000)
            i += in_flight

    await asyncio.gather(*(worker(w) for w in range(in_flight)))
    return latencies


async def closed_loop(
    seconds: float, in_flight: int, call: Callable[[int], Awaitable[Any]]
) -> tuple[float, list[float]]:
    """One path; returns (calls/s, latencies ms)."""
    start = time.perf_counter()
    (latencies,) = await _callers(seconds, in_flight, (call,))
    return len(latencies) / (time.perf_counter() - start), latencies


async def mixed_loop(
    seconds: float, in_flight: int, paths: Sequence[Callable[[int], Awaitable[Any]]]
) -> list[list[float]]:
    """A closed loop whose callers turn between ``paths`` call by call; the latencies of each, in ms."""
    return await _callers(seconds, in_flight, paths)


def median(values: list[float]) -> float:
    return float(np.median(values))


async def grpc_rounds(
    direct: str,
    envoy: EnvoyRoutes,
    queries: np.ndarray,
    seconds: float,
    rounds: int,
    nq_batch: int,
    open_loop_s: float,
) -> dict[str, Any]:
    """Interleaved rounds of six loads: the nq1 load (16 in flight) direct, through Envoy's VDB
    passthrough listener and through its L7 route (in turn, the order rotating by round); the same
    load with callers alternating between direct and each route (the hop, at the same moments);
    direct nq16. Each figure is the median over rounds, each hop the median of the per-round
    differences, so a noisy moment on the host moves one round, not a figure."""
    async with (
        grpc.aio.insecure_channel(direct) as d_channel,
        grpc.aio.insecure_channel(envoy.passthrough) as p_channel,
        grpc.aio.insecure_channel(envoy.l7) as l_channel,
    ):
        stubs = {
            "": vdb_pb2_grpc.VDBServiceStub(d_channel),
            "envoy_": vdb_pb2_grpc.VDBServiceStub(p_channel),
            "envoy_l7_": vdb_pb2_grpc.VDBServiceStub(l_channel),
        }
        md = bench_auth.metadata()  # every load carries the admin token, as a deployed caller does
        singles = [
            vdb_pb2.SearchRequest(collection="bench", queries=q.tobytes(), top_k=TOP_K)
            for q in queries
        ]
        batches = [
            vdb_pb2.SearchRequest(
                collection="bench", queries=queries[i : i + nq_batch].tobytes(), top_k=TOP_K
            )
            for i in range(0, len(queries) - nq_batch + 1, nq_batch)
        ]

        def nq1(
            stub: Any, metadata: tuple[tuple[str, str], ...] = md
        ) -> Callable[[int], Awaitable[Any]]:
            return lambda i: stub.Search(singles[i % len(singles)], metadata=metadata)

        for stub in stubs.values():
            await closed_loop(0.5, IN_FLIGHT, nq1(stub))  # warm-up: connections, caches
        per_round: dict[str, list[float]] = {}
        order = list(stubs)
        for r in range(rounds):
            for route in order[r % len(order) :] + order[: r % len(order)]:
                qps, lat = await closed_loop(seconds, IN_FLIGHT, nq1(stubs[route]))
                per_round.setdefault(f"{route}qps_nq1", []).append(qps)
                per_round.setdefault(f"{route}p50_ms_nq1", []).append(percentile(lat, 0.5))
                if not route:
                    per_round.setdefault("p99_ms_nq1", []).append(percentile(lat, 0.99))
            # Each route against direct under the same load at the same moments: the 16 callers
            # alternate between the two, so a busy instant on the host hits both alike. One route
            # at a time: the two share Envoy's workers, and mixing them would charge each with the
            # other's work.
            for route in ("envoy_", "envoy_l7_"):
                base, via = await mixed_loop(
                    seconds, IN_FLIGHT, (nq1(stubs[""]), nq1(stubs[route]))
                )
                per_round.setdefault(f"{route}hop_p50_ms", []).append(
                    percentile(via, 0.5) - percentile(base, 0.5)
                )
            # Auth off, on the same instance at the same moments: callers alternate between calls with
            # the token (verified) and calls without one (the instance also allows anonymous
            # callers, whom it serves without verifying anything).
            with_auth, no_auth = await mixed_loop(
                seconds, IN_FLIGHT, (nq1(stubs[""]), nq1(stubs[""], ()))
            )
            mixed_s = seconds / 2
            per_round.setdefault("qps_nq1_auth_mixed", []).append(len(with_auth) / mixed_s)
            per_round.setdefault("qps_nq1_no_auth", []).append(len(no_auth) / mixed_s)
            per_round.setdefault("p50_ms_nq1_no_auth", []).append(percentile(no_auth, 0.5))
            per_round.setdefault("auth_p50_ms", []).append(
                percentile(with_auth, 0.5) - percentile(no_auth, 0.5)
            )
            calls16, _ = await closed_loop(
                seconds, 4, lambda i: stubs[""].Search(batches[i % len(batches)], metadata=md)
            )
            per_round.setdefault("qps_nq16", []).append(calls16 * nq_batch)
            log(
                f"  round {r + 1}: nq1 p50 direct {per_round['p50_ms_nq1'][-1]:.3f} / envoy passthrough "
                f"{per_round['envoy_p50_ms_nq1'][-1]:.3f} / envoy L7 {per_round['envoy_l7_p50_ms_nq1'][-1]:.3f} ms "
                f"({per_round['qps_nq1'][-1]:.0f} / {per_round['envoy_qps_nq1'][-1]:.0f} / "
                f"{per_round['envoy_l7_qps_nq1'][-1]:.0f} qps); hop at the same moments: passthrough "
                f"{per_round['envoy_hop_p50_ms'][-1]:.3f}, L7 {per_round['envoy_l7_hop_p50_ms'][-1]:.3f} ms; "
                f"nq16 {calls16 * nq_batch:.0f} q/s"
            )
        figures: dict[str, Any] = {key: median(values) for key, values in per_round.items()}
        # Open loop: searches arrive at a fixed rate (50% and 80% of the closed-loop maximum),
        # each latency from its scheduled arrival, so queueing shows in p99.
        arrivals = iter(range(1 << 62))
        for share in (0.5, 0.8):
            result = await open_loop(
                share * figures["qps_nq1"],
                open_loop_s,
                lambda: stubs[""].Search(singles[next(arrivals) % len(singles)], metadata=md),
            )
            tag = f"open_loop_nq1_{int(share * 100)}pct"
            figures.update(
                {
                    f"{tag}_p50_ms": result.p50_ms,
                    f"{tag}_p99_ms": result.p99_ms,
                    f"{tag}_offered_qps": result.rate,
                    f"{tag}_achieved_qps": result.achieved,
                    f"{tag}_errors": result.errors,
                }
            )
            log(
                f"  open loop at {result.rate:.0f} qps: p50 {result.p50_ms:.3f} ms, "
                f"p99 {result.p99_ms:.3f} ms ({result.achieved:.0f} achieved)"
            )
    figures["qps_nq1_rounds"] = [round(v) for v in per_round["qps_nq1"]]
    return figures


def brute_force_top_k(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The exact top-10 ids (rows of ``data``) by inner product on unit vectors, i.e. cosine."""
    return np.argsort(-(queries @ data.T), axis=1)[:, :TOP_K]


def recall_against(found: Sequence[Sequence[int | str]], truth: np.ndarray) -> float:
    """Mean share of each query's exact top-10 among the ids it got back."""
    return float(
        np.mean(
            [
                len({int(i) for i in ids} & set(t.tolist())) / TOP_K
                for ids, t in zip(found, truth, strict=True)
            ]
        )
    )


def recall_at_10(address: str, data: np.ndarray, queries: np.ndarray) -> float:
    """The service's top-10 against brute force on the same (unit) vectors."""
    with VDBClient(address=address) as client:
        found = client.search("bench", queries, top_k=TOP_K)
    return recall_against([hit.ids for hit in found], brute_force_top_k(data, queries))


def service_rss_mb(pid: int) -> float:
    """Resident set size of the process ``pid`` (VmRSS in /proc/PID/status), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def reopen_s(vdb: ManagedProcess, query: np.ndarray, timeout: float = 600) -> tuple[float, str]:
    """Stop the service gracefully (SIGTERM), start it again the same way on the same data dir,
    and time from the start until the first Search on the collection succeeds; returns
    (seconds, the new address)."""
    vdb.stop(grace=30)
    request = vdb_pb2.SearchRequest(collection="bench", queries=query.tobytes(), top_k=TOP_K)
    started = time.perf_counter()
    address = vdb.start().wait_ready_file(timeout)["address"]
    with grpc.insecure_channel(address) as channel:
        stub = vdb_pb2_grpc.VDBServiceStub(channel)
        while True:
            try:
                stub.Search(request, metadata=bench_auth.metadata(), timeout=5)
                return time.perf_counter() - started, address
            except grpc.RpcError:
                if time.perf_counter() - started > timeout:
                    raise
                time.sleep(0.01)


@dataclass(frozen=True)
class EnvoyRoutes:
    l7: str  # the mesh listener: HTTP/2, routed by the service's path prefix
    passthrough: str  # the VDB's own L4 listener (tcp_proxy)


def grpc_frame(message: bytes) -> bytes:
    """A gRPC length-prefixed message (uncompressed): what an HTTP/2 client puts in the body."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def h2load_nq1(
    run: Path, address: str, request: vdb_pb2.SearchRequest, reply_bytes: int, seconds: float
) -> dict[str, Any]:
    """nq1 load from h2load (nghttp2's C load generator): one HTTP/2 connection, 16 streams in
    flight (what the Python loads hold), the same Search request with the admin token, for
    ``seconds``. h2load counts a gRPC error as a 200 (gRPC's status is a trailer), so each reply's
    body is checked against a real reply's size: a trailers-only error has no body."""
    body = run / "search.grpc"
    body.write_bytes(grpc_frame(request.SerializeToString()))
    headers = [("content-type", "application/grpc"), ("te", "trailers"), *bench_auth.metadata()]
    cmd = ["h2load", "-c", "1", "-m", str(IN_FLIGHT), "-t", "1", "-D", str(max(1, round(seconds)))]
    cmd += ["-d", str(body)] + [a for k, v in headers for a in ("-H", f"{k}: {v}")]
    out = subprocess.run(
        [*cmd, f"http://{address}/sage.vdb.v1.VDBService/Search"],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    rate = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    done = re.search(
        r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", out
    )
    data = re.search(r"traffic: .*\((\d+)\) data", out)  # the exact byte count
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    if not (rate and done and data and mean):
        raise RuntimeError(f"unexpected h2load output:\n{out}")
    succeeded, failed = int(done.group(1)), int(done.group(2))
    per_reply = int(data.group(1)) / succeeded if succeeded else 0.0
    if failed or per_reply < 0.9 * (reply_bytes + 5):
        raise RuntimeError(
            f"h2load's replies are not search results ({succeeded} ok, {failed} failed, "
            f"{per_reply:.0f} B per reply, a real one is {reply_bytes + 5} B):\n{out}"
        )
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[mean.group(2)]
    return {"qps": float(rate.group(1)), "mean_ms": float(mean.group(1)) * scale}


def h2load_figures(
    run: Path, address: str, routes: EnvoyRoutes, query: np.ndarray, seconds: float
) -> dict[str, Any]:
    """h2load's nq1 load straight to the service and through Envoy's L7 route (null figures
    when h2load is not installed: Debian's nghttp2-client)."""
    keys = ("h2load_qps_nq1", "h2load_mean_ms_nq1", "h2load_envoy_l7_qps_nq1")
    if shutil.which("h2load") is None:
        log("  h2load not installed (Debian nghttp2-client): its figures are null")
        return dict.fromkeys(keys)
    request = vdb_pb2.SearchRequest(collection="bench", queries=query.tobytes(), top_k=TOP_K)
    with grpc.insecure_channel(address) as channel:
        reply = vdb_pb2_grpc.VDBServiceStub(channel).Search(request, metadata=bench_auth.metadata())
    direct = h2load_nq1(run, address, request, reply.ByteSize(), seconds / 2)
    via_l7 = h2load_nq1(run, routes.l7, request, reply.ByteSize(), seconds / 2)
    log(
        f"  h2load nq1: {direct['qps']:.0f} qps direct (mean {direct['mean_ms']:.3f} ms), "
        f"{via_l7['qps']:.0f} through Envoy L7"
    )
    return dict(zip(keys, (direct["qps"], direct["mean_ms"], via_l7["qps"]), strict=True))


def start_envoy(run: Path, vdb_address: str) -> tuple[ManagedProcess, EnvoyRoutes]:
    """Envoy as the mesh configures it (envoy_config.bootstrap), with the VDB passthrough listener."""
    port, passthrough, admin = free_port(), free_port(), free_port()
    eds = run / "eds"
    envoy_config.write_eds(eds, "vdb", [vdb_address])
    config = run / "envoy.yaml"
    envoy_config.write_atomic(
        config,
        envoy_config.bootstrap(
            port, admin, eds, {"vdb": "sage.vdb.v1.VDBService"}, passthrough={"vdb": passthrough}
        ),
    )
    proc = infra.envoy_process(run, config, base_id=port).start()
    routes = EnvoyRoutes(l7=f"127.0.0.1:{port}", passthrough=f"127.0.0.1:{passthrough}")
    for listener in (port, passthrough):
        infra.wait_port(proc, listener)
    # Wait until Envoy's active health check admits the endpoint.
    deadline = time.monotonic() + 20
    for address in (routes.l7, routes.passthrough):
        with VDBClient(address=address) as client:
            while True:
                try:
                    client.list_collections()
                    break
                except Exception:  # noqa: BLE001 - not routed yet
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
    return proc, routes


def inproc_figures(path: str, queries: np.ndarray, seconds: float) -> dict[str, Any]:
    """The native core in this process, one query per call: from one thread (the ceiling of one
    caller), then from one thread per core at once (Collection.search releases the GIL)."""
    from sage_native import Collection

    col = Collection.open(path)
    try:
        for q in queries[:200]:
            col.search(q, TOP_K, include=[])
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            col.search(queries[count % len(queries)], TOP_K, include=[])
            count += 1
        one_thread = count / (time.perf_counter() - start)
        threads = len(os.sched_getaffinity(0))
        all_cores = threaded_qps(
            seconds, threads, lambda i: col.search(queries[i % len(queries)], TOP_K, include=[])
        )
    finally:
        col.close()
    return {
        "inproc_qps_1": one_thread,
        "inproc_qps_1_thread": one_thread,
        "inproc_qps_all_cores": all_cores,
        "inproc_threads": threads,
    }


def threaded_qps(seconds: float, threads: int, call: Callable[[int], Any]) -> float:
    stop_at = time.perf_counter() + seconds
    counts = [0] * threads

    def worker(w: int) -> None:
        i = w
        while time.perf_counter() < stop_at:
            call(i)
            counts[w] += 1
            i += threads

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


MILVUS_LITE_KEYS = (
    "milvus_lite_qps_nq1",
    "milvus_lite_recall_at_10",
    "milvus_lite_idle_wait_s",
    "milvus_lite_idle_reached",
)


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (state, ppid, ...)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(
                    int(entry.name)
                )
            except (OSError, IndexError):
                continue  # exited meanwhile
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def milvus_lite_cpu_s() -> float:
    """CPU seconds so far of wherever milvus-lite's server runs: this process (milvus-lite 3 serves
    from threads in it) and any descendant process named milvus* (milvus-lite 2's server binary)."""
    me = os.getpid()
    ticks = 0
    for pid in [me, *_descendants(me)]:
        try:
            if pid != me and "milvus" not in Path(f"/proc/{pid}/comm").read_text().lower():
                continue
            fields = _stat_fields(pid)
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_milvus_lite_idle(limit_s: float = 60, busy: float = 0.05) -> tuple[float, bool]:
    """Sample milvus-lite's CPU time over 1 s windows until one uses under ``busy`` of a core (its
    background compaction and index builds are done), for at most ``limit_s``; returns (seconds
    waited, including the idle window; whether it went idle)."""
    started = time.perf_counter()
    while True:
        before = milvus_lite_cpu_s()
        time.sleep(1.0)
        if milvus_lite_cpu_s() - before < busy:
            return time.perf_counter() - started, True
        if time.perf_counter() - started >= limit_s:
            return time.perf_counter() - started, False


def milvus_lite_figures(
    run: Path, data: np.ndarray, queries: np.ndarray, seconds: float
) -> dict[str, Any]:
    """milvus-lite as a competent user sets it up: HNSW with our build parameters and metric,
    ef=64 on every search, ids-only results, and the timing only once it is idle after loading."""
    try:
        from pymilvus import DataType, MilvusClient
    except ImportError:
        log("pymilvus/milvus-lite not installed (pip install -e '.[bench]'); milvus-lite = null")
        return dict.fromkeys(MILVUS_LITE_KEYS)
    client = MilvusClient(str(run / "milvus.db"))
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index(
        field_name="vector",
        index_type="HNSW",
        metric_type="COSINE",
        params={"M": HNSW["M"], "efConstruction": HNSW["ef_construction"]},
    )
    # Eventual consistency: searches do not wait for a time tick, Milvus's fastest read path.
    client.create_collection(
        "bench", schema=schema, index_params=index, consistency_level="Eventually"
    )
    step = 5000
    for start in range(0, len(data), step):
        rows = [
            {"id": start + i, "vector": v}
            for i, v in enumerate(data[start : start + step].tolist())
        ]
        client.insert("bench", rows)
    client.flush("bench")
    client.load_collection("bench")
    idle_wait_s, idle = wait_milvus_lite_idle()
    log(f"  milvus-lite idle after {idle_wait_s:.1f} s" + ("" if idle else " (not idle: limit)"))
    search = {
        "limit": TOP_K,
        "search_params": {"metric_type": "COSINE", "params": {"ef": HNSW["ef_search"]}},
        "output_fields": ["id"],  # ids and distances, as ours returns; the default adds vectors
    }
    qlist = queries.tolist()
    found = client.search("bench", data=qlist[:200], **search)
    recall = recall_against(
        [[hit["id"] for hit in hits] for hits in found], brute_force_top_k(data, queries[:200])
    )
    for q in qlist[:50]:
        client.search("bench", data=[q], **search)
    qps = threaded_qps(
        seconds,
        IN_FLIGHT,
        lambda i: client.search("bench", data=[qlist[i % len(qlist)]], **search),
    )
    client.close()
    return dict(zip(MILVUS_LITE_KEYS, (qps, recall, idle_wait_s, idle), strict=True))


def chroma_qps(run: Path, data: np.ndarray, queries: np.ndarray, seconds: float) -> float | None:
    try:
        import chromadb
    except ImportError:
        log("chromadb not installed (pip install -e '.[bench]'); chroma_qps_1 = null")
        return None
    client = chromadb.PersistentClient(path=str(run / "chroma"))
    col = client.create_collection(
        "bench",
        metadata={
            "hnsw:space": "cosine",
            "hnsw:M": 16,
            "hnsw:construction_ef": 200,
            "hnsw:search_ef": 64,
        },
    )
    step = 5000
    for start in range(0, len(data), step):
        col.add(
            ids=[str(start + i) for i in range(len(data[start : start + step]))],
            embeddings=data[start : start + step],
        )
    for q in queries[:50]:
        col.query(query_embeddings=[q], n_results=TOP_K)
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        col.query(query_embeddings=[queries[count % len(queries)]], n_results=TOP_K)
        count += 1
    return count / (time.perf_counter() - t0)


def embed_ms_per_text(run: Path, seconds: float) -> float | None:
    env = {
        "SAGE_BACKEND": "mock",
        "SAGE_EMBEDDINGS": "true",
        "SAGE_LOG_LEVEL": "WARNING",
        "SAGE_READY_FILE": str(run / "llm.ready"),
        "HF_HUB_OFFLINE": "1",
    }
    proc = ManagedProcess(
        "llm",
        [sys.executable, "-m", "sage_llm"],
        run / "llm.log",
        env=env,
        ready_file=run / "llm.ready",
    ).start()
    try:
        address = proc.wait_ready_file(120)["address"]
    except Exception as exc:  # noqa: BLE001 - report the figure as missing, keep the rest
        log(f"LLM service did not start ({exc}); embed_ms_per_text = null")
        proc.stop(grace=2)
        return None
    try:
        from sage_client.llm import LLMClient

        texts = [
            f"sentence number {i} about vector search and streaming dataflows" for i in range(64)
        ]
        with LLMClient(address=address) as llm:
            llm.embed(texts)
            calls, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                llm.embed(texts)
                calls += 1
            return (time.perf_counter() - t0) * 1000 / (calls * len(texts))
    finally:
        proc.stop(grace=5)


def memory_figures(quick: bool) -> dict[str, Any]:
    """The Memory service's p50s from bench/memory.py (one piece of code measures them)."""
    script = Path(__file__).with_name("memory.py")
    argv = [sys.executable, str(script), *(["--quick"] if quick else [])]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        last = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        log(f"bench/memory.py failed ({exc}); memory figures = null")
        return {"memory_store_p50_ms": None, "memory_search_p50_ms": None}
    return {k: last.get(k) for k in ("memory_store_p50_ms", "memory_search_p50_ms")}


def main() -> None:
    bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="4k vectors, short phases (about a minute)"
    )
    parser.add_argument(
        "--n", type=int, help="number of vectors (default 100000, 4000 with --quick)"
    )
    parser.add_argument("--no-peers", action="store_true", help="skip milvus-lite and ChromaDB")
    parser.add_argument("--no-memory", action="store_true", help="skip the Memory service figures")
    args = parser.parse_args()
    # Like the service (sage_vdb/__main__.py): one OpenMP thread per call, so the in-process
    # ceiling runs the core the way the service does. sage_native (libgomp) loads only later.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    n = args.n or (4_000 if args.quick else 100_000)
    seconds = 2.0 if args.quick else 10.0  # per load, split over the rounds
    rounds = 6 if args.quick else 10
    began = time.perf_counter()
    data, queries = dataset(n, 1000)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        data_dir = run / "vdb-data"
        # Auth on (the mesh's secrets, inherited), and anonymous callers allowed too, so the rounds
        # can measure calls without a credential on the same instance (qps_nq1_no_auth).
        env = {
            "SAGE_LOG_LEVEL": "WARNING",
            "SAGE_DATA_DIR": str(data_dir),
            "SAGE_READY_FILE": str(run / "vdb.ready"),
            "SAGE_ALLOW_ANONYMOUS": "true",
        }
        vdb = ManagedProcess(
            "vdb",
            [sys.executable, "-m", "sage_vdb"],
            run / "vdb.log",
            env=env,
            ready_file=run / "vdb.ready",
        ).start()
        envoy = None
        try:
            address = vdb.wait_ready_file(60)["address"]
            log(f"VDB at {address}: loading {n} x {DIM}")
            with VDBClient(address=address, timeout=3600) as client:
                client.create_collection(
                    "bench", DIM, metric="cosine", index=HNSW, durability="async"
                )
                t0 = time.perf_counter()
                client.bulk_upsert(
                    "bench", [str(i) for i in range(n)], data, batch_size=2000, durability="sync"
                )
                figures["upsert_vectors_per_s"] = n / (time.perf_counter() - t0)
                figures["service_rss_mb"] = service_rss_mb(vdb.pid)
                log(
                    f"  upsert {figures['upsert_vectors_per_s']:.0f} vectors/s; service RSS "
                    f"{figures['service_rss_mb']:.0f} MiB"
                )
                envoy, routes = start_envoy(run, address)
                figures.update(
                    asyncio.run(
                        grpc_rounds(
                            address, routes, queries, seconds / rounds, rounds, 16, seconds / 2
                        )
                    )
                )
                log(
                    f"  median of {rounds} rounds: nq1 {figures['qps_nq1']:.0f} qps p50 {figures['p50_ms_nq1']:.3f} ms;"
                    f" through envoy: passthrough p50 {figures['envoy_p50_ms_nq1']:.3f} ms (hop "
                    f"{figures['envoy_hop_p50_ms']:.3f}), L7 p50 {figures['envoy_l7_p50_ms_nq1']:.3f} ms (hop "
                    f"{figures['envoy_l7_hop_p50_ms']:.3f}); nq16 {figures['qps_nq16']:.0f} q/s"
                )
                figures.update(h2load_figures(run, address, routes, queries[0], seconds))
                figures["recall_at_10"] = recall_at_10(address, data, queries[:200])
                log(f"  recall@10 {figures['recall_at_10']:.3f}")
                client.flush("bench")
            envoy.stop(grace=2)
            envoy = None
            figures["reopen_s"], address = reopen_s(vdb, queries[0])
            figures["service_rss_mb_reopened"] = service_rss_mb(vdb.pid)
            log(
                f"  restarted: first search after {figures['reopen_s']:.2f} s; RSS "
                f"{figures['service_rss_mb_reopened']:.0f} MiB"
            )
        finally:
            if envoy is not None:
                envoy.stop(grace=2)
            vdb.stop(grace=10)
        core_path = next((data_dir / "collections" / "bench").glob("core"))
        figures.update(inproc_figures(str(core_path), queries, seconds))
        log(
            f"  in-process {figures['inproc_qps_1']:.0f} qps from 1 thread, "
            f"{figures['inproc_qps_all_cores']:.0f} from {figures['inproc_threads']} "
            f"({time.perf_counter() - began:.0f} s)"
        )
        if not args.no_peers:
            figures.update(milvus_lite_figures(run, data, queries, seconds))
            log(
                f"  milvus-lite {figures['milvus_lite_qps_nq1']} qps, recall@10 "
                f"{figures['milvus_lite_recall_at_10']} ({time.perf_counter() - began:.0f} s)"
            )
            figures["chroma_qps_1"] = chroma_qps(run, data, queries, seconds)
            log(f"  chroma {figures['chroma_qps_1']} qps ({time.perf_counter() - began:.0f} s)")
        else:
            figures.update(dict.fromkeys(MILVUS_LITE_KEYS))
            figures["chroma_qps_1"] = None
        figures["embed_ms_per_text"] = embed_ms_per_text(run, seconds)
    if args.no_memory:
        figures.update({"memory_store_p50_ms": None, "memory_search_p50_ms": None})
    else:
        figures.update(memory_figures(args.quick))
        log(
            f"  memory store p50 {figures['memory_store_p50_ms']} ms, search p50 "
            f"{figures['memory_search_p50_ms']} ms ({time.perf_counter() - began:.0f} s)"
        )
    figures["wall_s"] = time.perf_counter() - began
    milvus = figures["milvus_lite_qps_nq1"]
    figures["targets"] = {
        "qps_nq1>=2500": figures["qps_nq1"] >= 2500,
        "qps_nq16>=10000": figures["qps_nq16"] >= 10000,
        "qps_nq1>=20x_milvus_lite": None if milvus is None else figures["qps_nq1"] >= 20 * milvus,
        "recall_at_10>=0.95": figures["recall_at_10"] >= 0.95,
        # The reading (the same load through Envoy, p50 against direct's) and the stricter
        # one (the hop's cost per call at the same moments), both on the VDB's passthrough route.
        "envoy_p50-p50<=0.3ms": figures["envoy_p50_ms_nq1"] - figures["p50_ms_nq1"] <= 0.3,
        "envoy_hop_p50<=0.3ms": figures["envoy_hop_p50_ms"] <= 0.3,
        "qps_nq1>=0.9*qps_nq1_no_auth": figures["qps_nq1_auth_mixed"]
        >= 0.9 * figures["qps_nq1_no_auth"],
        "memory_store_p50<=5ms": None
        if figures["memory_store_p50_ms"] is None
        else figures["memory_store_p50_ms"] <= 5,
        "memory_search_p50<=5ms": (
            None
            if figures["memory_search_p50_ms"] is None
            else figures["memory_search_p50_ms"] <= 5
        ),
    }
    figures.update(
        {
            "envoy_route": "vdb passthrough listener (L4 tcp_proxy); envoy_l7_*: the L7 mesh route",
            "n": n,
            "dim": DIM,
            "top_k": TOP_K,
            "in_flight": IN_FLIGHT,
            "index": HNSW,
            "quick": args.quick,
            "seconds_per_phase": seconds,
            "rounds": rounds,
            "grpcio": grpc.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        }
    )
    figures = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in figures.items()}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
