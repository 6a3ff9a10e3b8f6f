#!/usr/bin/env python3
"""Each mesh service's footprint: how long it takes to start and how much memory it holds.

    python bench/footprint.py                       # every service, 3 starts each, full loads
    python bench/footprint.py --quick               # 1 start each, smaller loads (a minute or two)
    python bench/footprint.py --quick --services kv,vdb

Every service runs as ``sage mesh up`` starts it: ``python -m <module>`` on a loopback port,
auth on (the mesh's secrets file, the principal the launcher gives it), registered in an etcd
with auth on (started here; without an etcd binary the services run unregistered and
``"etcd": false`` says so), metrics port on, a fresh data directory per start.

Figures (last stdout line, one JSON object; nested: ``cold_start_s.kv`` is
``figures["cold_start_s"]["kv"]``):
  cold_start_s.<service>   seconds from spawning the process (just before ``Popen``) to its
                           gRPC health check (``grpc.health.v1.Health/Check``, service "")
                           answering SERVING; HTTP services (gateway, studio): to ``GET /healthz``
                           answering 200. Median over ``n`` starts (3; 1 with --quick);
                           ``cold_start_runs_s`` has every start
  rss_mb_idle.<service>    the service process's own resident memory (``VmRSS`` of
                           ``/proc/<pid>/status``, MiB) right after it answered SERVING; median
                           over the same starts. Child processes are not counted
  rss_mb_loaded.<service>  kv, vdb and tsdb: the same process's RSS after a fixed load, the sizes
                           in ``load.<service>``:
                           kv    100k keys of 100 B through KVClient.batch_put, 1000 keys per call
                                 (the memory backend, which holds the data in the process)
                           vdb   100k x 384 float32 vectors (20k with --quick), HNSW (M 16,
                                 ef_construction 200), streamed with UpsertStream
                                 (VDBClient.bulk_upsert, 2000 per message, durability sync)
                           tsdb  1M points (100k with --quick), one series, 5000-point Write
                                 calls, durability sync
  skipped.<service>        why a service asked for has no figures (its figures are null)

Services: kv, vdb, memory (started against its own KV, VDB and mock LLM), llm_mock (the mock
engine; its all-MiniLM-L6-v2 embedder loaded as deployed), llm (the ``auto`` engine: llama.cpp
with the bundled SmolLM2 GGUF on a CPU host; skipped when no real engine can load), tsdb,
kernel (the job manager; its pre-started standby worker is a separate process, not counted),
gateway (against a KV and a mock LLM, Redis counters when redis-server is installed, memory step
off), studio (against such a gateway). Dependencies are started once, before the service they
serve is measured, and are not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)
import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc
from measure import rss_mb

from sage_client.kv import KVClient
from sage_client.tsdb import TSDBClient, series_batch
from sage_client.vdb import VDBClient
from sage_deploy import infra
from sage_deploy.launcher import DEFAULT_PRINCIPAL, PRINCIPALS
from sage_deploy.processes import ManagedProcess, StartError, free_port
from sage_deploy.secrets import load as load_secrets

KV_KEYS, KV_VALUE_BYTES, KV_BATCH = 100_000, 100, 1000
VDB_DIM, VDB_BATCH = 384, 2000
VDB_INDEX = {"type": "hnsw", "M": 16, "ef_construction": 200, "ef_search": 64}
TSDB_BATCH = 5000
POLL_S = 0.01  # between readiness probes


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ServiceSpec:
    """One measured service: its module, its settings, and what it needs running first."""

    name: str  # the key in the JSON
    module: str
    settings: dict[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # dependencies (names in DEPENDENCIES)
    http: bool = False
    ready_timeout_s: float = 120.0

    @property
    def principal(self) -> str:
        return PRINCIPALS.get(self.name.split("_")[0], DEFAULT_PRINCIPAL)


SPECS = {
    spec.name: spec
    for spec in (
        ServiceSpec("kv", "sage_kv", {"SAGE_BACKEND": "memory"}),
        ServiceSpec("vdb", "sage_vdb"),
        ServiceSpec("memory", "sage_memory", needs=("kv", "vdb", "llm")),
        ServiceSpec("llm_mock", "sage_llm", {"SAGE_BACKEND": "mock"}),
        ServiceSpec("llm", "sage_llm", {"SAGE_BACKEND": "auto"}, ready_timeout_s=300.0),
        ServiceSpec("tsdb", "sage_tsdb"),
        ServiceSpec("kernel", "sage_kernel"),
        ServiceSpec("gateway", "sage_gateway", needs=("kv", "llm"), http=True),
        ServiceSpec("studio", "sage_studio", needs=("gateway",), http=True),
    )
}
# What a dependency is started as (untimed), and the setting that points a service at it.
DEPENDENCIES = {
    "kv": SPECS["kv"],
    "vdb": SPECS["vdb"],
    "llm": SPECS["llm_mock"],
    "gateway": ServiceSpec("gateway", "sage_gateway", needs=("kv", "llm"), http=True),
}
LOADED = ("kv", "vdb", "tsdb")


def wiring(spec: ServiceSpec, addresses: dict[str, str]) -> dict[str, str]:
    """The settings that point ``spec`` at its started dependencies."""
    if spec.module == "sage_memory":
        return {f"SAGE_{n.upper()}_ADDRESS": addresses[n] for n in ("kv", "vdb", "llm")}
    if spec.module == "sage_gateway":
        return {
            "SAGE_KV_ADDR": addresses["kv"],
            "SAGE_LLM_ADDR": addresses["llm"],
            "SAGE_MEMORY_ENABLED": "false",
        }
    if spec.module == "sage_studio":
        return {"SAGE_GATEWAY_URL": f"http://{addresses['gateway']}"}
    return {}


# -- starting a service and waiting until it serves -------------------------------------------


def wait_grpc_serving(proc: ManagedProcess, address: str, timeout: float) -> None:
    """Poll ``grpc.health.v1.Health/Check`` until it answers SERVING (reconnects every 20 ms)."""
    options = [
        ("grpc.initial_reconnect_backoff_ms", 20),
        ("grpc.min_reconnect_backoff_ms", 20),
        ("grpc.max_reconnect_backoff_ms", 50),
    ]
    serving = health_pb2.HealthCheckResponse.SERVING
    with grpc.insecure_channel(address, options=options) as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        def check() -> bool:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=0.5)
            except grpc.RpcError:
                return False
            return bool(reply.status == serving)

        proc.wait_until(check, timeout, "health check SERVING")


def wait_http_ready(proc: ManagedProcess, address: str, timeout: float) -> None:
    """Poll ``GET /healthz`` until it answers 200."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(f"http://{address}/healthz", timeout=0.5) as reply:
                return bool(reply.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    proc.wait_until(check, timeout, "GET /healthz 200")


@dataclass
class Started:
    proc: ManagedProcess
    address: str
    cold_start_s: float
    rss_mb: float  # right after it answered SERVING


class Spawner:
    """Starts services the way the launcher does (settings, principal, etcd, secrets)."""

    def __init__(self, run_dir: Path, etcd_endpoints: str, redis_url: str) -> None:
        self.run_dir = run_dir
        self.etcd_endpoints = etcd_endpoints
        self.redis_url = redis_url
        self._count = 0

    def start(self, spec: ServiceSpec, extra: dict[str, str]) -> Started:
        self._count += 1
        name = f"{spec.name}-{self._count}"
        port = free_port()
        address = f"127.0.0.1:{port}"
        env = {
            "SAGE_HOST": "127.0.0.1",
            "SAGE_PORT": str(port),
            "SAGE_METRICS_PORT": str(free_port()),
            "SAGE_INSTANCE_ID": f"{name}-{secrets.token_hex(3)}",
            "SAGE_ETCD_ENDPOINTS": self.etcd_endpoints,
            "SAGE_READY_FILE": str(self.run_dir / "ready" / f"{name}.json"),
            "SAGE_DATA_DIR": str(self.run_dir / "data" / name),
            "SAGE_LOG_LEVEL": "WARNING",
            "SAGE_SECRETS_FILE": os.environ["SAGE_SECRETS_FILE"],
            "SAGE_PRINCIPAL": spec.principal,
            **({"SAGE_REDIS_URL": self.redis_url} if self.redis_url else {}),
            **spec.settings,
            **extra,
        }
        (self.run_dir / "ready").mkdir(parents=True, exist_ok=True)
        proc = ManagedProcess(
            name, [sys.executable, "-m", spec.module], self.run_dir / "logs" / f"{name}.log", env
        )
        began = time.perf_counter()
        proc.start()
        try:
            wait = wait_http_ready if spec.http else wait_grpc_serving
            wait(proc, address, spec.ready_timeout_s)
            cold = time.perf_counter() - began
            return Started(proc, address, cold, rss_mb(proc.pid))
        except BaseException:
            proc.stop(grace=2)
            raise


class Dependencies:
    """The services others need, each started once on first use, stopped at the end."""

    def __init__(self, spawner: Spawner) -> None:
        self.spawner = spawner
        self.started: dict[str, Started] = {}

    def addresses(self, names: tuple[str, ...]) -> dict[str, str]:
        for name in names:
            if name not in self.started:
                spec = DEPENDENCIES[name]
                extra = wiring(spec, self.addresses(spec.needs))
                log(f"  starting dependency {name} ({spec.module})")
                self.started[name] = self.spawner.start(spec, extra)
        return {name: self.started[name].address for name in names}

    def stop(self) -> None:
        for started in reversed(list(self.started.values())):
            started.proc.stop(grace=5)


# -- loads ------------------------------------------------------------------------------------


def load_kv(address: str) -> dict[str, Any]:
    value = b"v" * KV_VALUE_BYTES
    with KVClient(namespace="footprint", address=address, timeout=120) as kv:
        for first in range(0, KV_KEYS, KV_BATCH):
            kv.batch_put({f"key:{i:08d}": value for i in range(first, first + KV_BATCH)})
        assert kv.get(f"key:{KV_KEYS - 1:08d}") == value
    return {"keys": KV_KEYS, "value_bytes": KV_VALUE_BYTES, "batch": KV_BATCH}


def vdb_vectors(n: int) -> np.ndarray:
    """Clustered unit vectors (like sentence embeddings), as bench/vdb_service.py makes them."""
    rng = np.random.default_rng(7)
    centers = rng.standard_normal((64, VDB_DIM)).astype(np.float32)
    data = centers[rng.integers(0, 64, n)]
    data += 0.5 * rng.standard_normal((n, VDB_DIM)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    return data


def load_vdb(address: str, n: int) -> dict[str, Any]:
    data = vdb_vectors(n)
    with VDBClient(address=address, timeout=3600) as vdb:
        vdb.create_collection(
            "footprint", VDB_DIM, metric="cosine", index=VDB_INDEX, durability="async"
        )
        upserted = vdb.bulk_upsert(
            "footprint", [str(i) for i in range(n)], data, batch_size=VDB_BATCH, durability="sync"
        )
        assert upserted == n, f"UpsertStream upserted {upserted} of {n}"
    return {"vectors": n, "dim": VDB_DIM, "index": VDB_INDEX, "batch": VDB_BATCH}


def load_tsdb(address: str, n: int) -> dict[str, Any]:
    timestamps = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 100
    values = np.random.default_rng(0).normal(size=n)
    with TSDBClient(address=address, timeout=120) as tsdb:
        for first in range(0, n, TSDB_BATCH):
            batch = series_batch(
                "cpu",
                timestamps[first : first + TSDB_BATCH],
                values[first : first + TSDB_BATCH],
                tags={"host": "a"},
            )
            tsdb.write([batch], durability="sync")
    return {"points": n, "series": 1, "batch": TSDB_BATCH}


def loader(name: str, quick: bool) -> Callable[[str], dict[str, Any]] | None:
    if name == "kv":
        return load_kv
    if name == "vdb":
        return lambda address: load_vdb(address, 20_000 if quick else 100_000)
    if name == "tsdb":
        return lambda address: load_tsdb(address, 100_000 if quick else 1_000_000)
    return None


# -- the run ----------------------------------------------------------------------------------


def real_llm_engine() -> tuple[str | None, str]:
    """What ``SAGE_BACKEND=auto`` would load here, asked in a child (it imports torch):
    (engine, reason), or (None, why none can load)."""
    probe = (
        "import json; from sage_llm.selection import choose_engine;"
        "from sage_llm.model_files import resolve_model_path;"
        "c = choose_engine('auto'); p = resolve_model_path(None);"
        "print(json.dumps([c.engine, c.device, c.reason, str(p)]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return None, lines[-1] if lines else f"probe exited {out.returncode}"
    engine, device, reason, model = json.loads(out.stdout.strip().splitlines()[-1])
    return f"{engine} on {device}", f"{reason}; model {model}"


@contextmanager
def infrastructure(run_dir: Path) -> Iterator[tuple[str, str]]:
    """etcd (auth on) and Redis (the mesh's ACL) when their binaries are installed:
    (etcd endpoints, Redis URL), each empty when absent."""
    secrets_data = load_secrets(os.environ["SAGE_SECRETS_FILE"])
    procs: list[ManagedProcess] = []
    etcd, redis_url = "", ""
    try:
        if shutil.which("etcd"):
            port = free_port()
            proc = infra.etcd_process(run_dir, port, free_port()).start()
            procs.append(proc)
            infra.wait_port(proc, port)
            infra.etcd_enable_auth(port, secrets_data)
            etcd = f"127.0.0.1:{port}"
        if shutil.which("redis-server"):
            port = free_port()
            proc = infra.redis_process(run_dir, port, secrets=secrets_data).start()
            procs.append(proc)
            infra.wait_port(proc, port)
            redis_url = infra.redis_url(port, secrets_data)
        yield etcd, redis_url
    finally:
        for proc in reversed(procs):
            proc.stop(grace=5)


def reason_of(exc: BaseException) -> str:
    """The error's text (StartError's includes the log's last lines), at most about 1500 chars."""
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 1500 else text[:700] + " ... " + text[-700:]


def measure_service(
    spec: ServiceSpec, spawner: Spawner, deps: Dependencies, starts: int, quick: bool
) -> dict[str, Any]:
    """``starts`` cold starts of ``spec`` (the last one loaded when it has a load)."""
    try:
        extra = wiring(spec, deps.addresses(spec.needs))
    except (StartError, OSError) as exc:
        raise StartError(f"a dependency of {spec.name} did not start: {reason_of(exc)}") from exc
    colds: list[float] = []
    rss: list[float] = []
    result: dict[str, Any] = {}
    for k in range(starts):
        started = spawner.start(spec, extra)
        try:
            colds.append(started.cold_start_s)
            rss.append(started.rss_mb)
            log(
                f"  {spec.name} start {k + 1}/{starts}: SERVING after "
                f"{started.cold_start_s:.2f} s, RSS {started.rss_mb:.1f} MiB"
            )
            load = loader(spec.name, quick)
            if load is not None and k == starts - 1:
                began = time.perf_counter()
                result["load"] = load(started.address)
                result["load"]["seconds"] = round(time.perf_counter() - began, 2)
                result["rss_mb_loaded"] = rss_mb(started.proc.pid)
                log(
                    f"  {spec.name} loaded {result['load']} : RSS {result['rss_mb_loaded']:.1f} MiB"
                )
        finally:
            started.proc.stop(grace=5)
    result["cold_start_s"] = statistics.median(colds)
    result["cold_start_runs_s"] = [round(c, 3) for c in colds]
    result["rss_mb_idle"] = statistics.median(rss)
    return result


def parse_services(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SPECS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown service(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(SPECS)}"
        )
    return names


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 start each, smaller loads")
    parser.add_argument(
        "--services",
        type=parse_services,
        default=list(SPECS),
        help=f"comma-separated, from: {','.join(SPECS)} (default: all)",
    )
    args = parser.parse_args()
    bench_auth.ensure_secrets()  # auth on, as deployed; the SDK here presents the admin token
    starts = 1 if args.quick else 3
    figures: dict[str, Any] = {
        key: {} for key in ("cold_start_s", "cold_start_runs_s", "rss_mb_idle", "rss_mb_loaded")
    }
    figures["load"], figures["skipped"] = {}, {}
    llm_engine: str | None = None
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp:
        run_dir = Path(tmp)
        with infrastructure(run_dir) as (etcd, redis_url):
            log(
                f"footprint of {', '.join(args.services)}: {starts} start(s) each; etcd "
                f"{etcd or 'absent (unregistered)'}, redis {'on' if redis_url else 'absent'}"
            )
            spawner = Spawner(run_dir, etcd, redis_url)
            deps = Dependencies(spawner)
            try:
                for name in args.services:
                    spec = SPECS[name]
                    if name == "llm":
                        llm_engine, why = real_llm_engine()
                        log(f"  llm (auto): {llm_engine or 'none'} ({why})")
                        if llm_engine is None:
                            figures["skipped"][name] = f"no real LLM engine can load here: {why}"
                            continue
                    try:
                        measured = measure_service(spec, spawner, deps, starts, args.quick)
                    except (StartError, OSError, AssertionError, grpc.RpcError) as exc:
                        figures["skipped"][name] = reason_of(exc)
                        log(f"  {name}: skipped: {figures['skipped'][name]}")
                        continue
                    for key, value in measured.items():
                        figures[key][name] = round(value, 3) if isinstance(value, float) else value
            finally:
                deps.stop()
    for name in figures["skipped"]:  # null, never a made-up number
        for key in ("cold_start_s", "rss_mb_idle") + (("rss_mb_loaded",) if name in LOADED else ()):
            figures[key][name] = None
    figures.update(
        {
            "bench": "footprint",
            "n": starts,  # starts per service; the medians are over these
            "quick": args.quick,
            "services": args.services,
            "etcd": bool(etcd),
            "redis": bool(redis_url),
            "llm_engine": llm_engine,
            "seconds": round(time.perf_counter() - began, 1),
            "python": platform.python_version(),
            "grpcio": grpc.__version__,
            "cpus": os.cpu_count(),
        }
    )
    for key in ("cold_start_s", "rss_mb_idle", "rss_mb_loaded"):
        log(f"  {key:<14} {figures[key]}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
