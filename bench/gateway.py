#!/usr/bin/env python3
"""Gateway overhead: the same mock LLM reached directly over gRPC and through Envoy + gateway.

Both paths are driven by a minimal client, so the client is not what differs: a blocking gRPC
stub with one prebuilt ``ChatRequest`` for the direct path, one keep-alive HTTP/1.1 socket with
one prebuilt body for the gateway path.

- direct_p50_ms: non-streaming Chat to the LLM service over gRPC (the raw stub);
  direct_sdk_p50_ms: the same through the blocking SDK client (``LLMClient.chat``).
- gateway_p50_ms / gateway_p99_ms: the same chat as POST /v1/chat/completions through Envoy
  and the gateway (API key auth, the chat pipeline), one request at a time, keep-alive.
  gateway_overhead_p50_ms = gateway_p50_ms - direct_p50_ms.
- gateway_session_p50_ms: the same with a ``session_id`` (history read and the turn appended in
  KV on Redis) and a key with finite rpm/tpm limits (never reached, but enforced on every call).
- floor_p50_ms: a raw uvicorn handler that answers a fixed completion (bench/floor_app.py)
  behind Envoy configured the same way (envoy_config.bootstrap), one request at a time: the
  floor of an HTTP hop through Envoy. gateway_over_floor_p50_ms is what the gateway itself adds.
- gateway_rps, gateway_wrk_p50_ms / _p99_ms: non-streaming, 32 concurrent connections (wrk
  --latency, a C load generator), through Envoy; floor_rps the same against the floor.
- open_loop_{50,80}pct_p50_ms / _p99_ms: requests arriving at 50% and 80% of gateway_rps
  (asyncio raw connections, latency counted from each request's scheduled arrival).
- gateway_rss_mb: the gateway process's resident memory after the run.
- ttft_overhead_ms: streaming time to the first token, gateway (SSE) minus direct (gRPC stream).
- gateway_overhead_p50_ms_no_auth: the same overhead on a second mesh, started beside the first,
  whose services serve anonymous callers without verifying anything (and send no token), and
  whose gateway takes requests without a key (rounds interleaved with the first mesh's). The first mesh runs with
  auth on, as deployed: API key at the gateway, the mesh's tokens on every RPC.

The mock engine emits a fixed number of tokens (``--tokens``) as fast as it can. Everything
(etcd, Redis, KV, LLM, gateway, Envoy) is started here on loopback ports by the launcher.

    python bench/gateway.py [--quick]

The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)
import grpc
from measure import open_loop, percentile, rss_mb

from sage_client import KVClient
from sage_client.api_keys import NAMESPACE, KeyStore
from sage_client.channels import authorized_channel
from sage_client.credentials import default_metadata
from sage_client.llm import LLMClient
from sage_deploy import envoy_config, infra
from sage_deploy.launcher import Mesh
from sage_deploy.processes import ManagedProcess, free_port
from sage_deploy.topology import ServiceDef, Topology
from sage_proto.llm.v1 import llm_pb2, llm_pb2_grpc

MESSAGES = [{"role": "user", "content": "say something"}]


def topology(workers: int, gateways: int, auth: bool = True) -> Topology:
    """The bench's mesh; ``auth=False``: every service serves anonymous callers without verifying
    anything and the gateway accepts requests without a key (the ``_no_auth`` figures)."""
    # anonymous requests get the default per-key limits: lift them as the bench key's own are
    off = (
        {
            **bench_auth.NO_AUTH_IN_MESH,
            "SAGE_REQUIRE_AUTH": "false",
            "SAGE_DEFAULT_RPM": str(10**9),
            "SAGE_DEFAULT_TPM": str(10**12),
        }
        if not auth
        else {}
    )
    return Topology(
        etcd_port=0,
        etcd_peer_port=0,
        redis_port=0,
        envoy_port=0,
        envoy_admin_port=0,
        services=(
            ServiceDef(
                "kv", "sage_kv", "sage.kv.v1.KVService", 0, 0, env={"SAGE_BACKEND": "redis", **off}
            ),
            ServiceDef(
                "llm",
                "sage_llm",
                "sage.llm.v1.LLMService",
                0,
                0,
                env={
                    "SAGE_BACKEND": "mock",
                    "SAGE_EMBEDDINGS": "false",
                    "SAGE_MAX_BATCH_SIZE": "256",
                    "SAGE_MAX_QUEUE": "4096",
                    "SAGE_LOG_LEVEL": "WARNING",
                    **off,
                },
            ),
            ServiceDef(
                "gateway",
                "sage_gateway",
                "",
                0,
                0,
                http=True,
                replicas=gateways,
                env={
                    "SAGE_PIPELINE_WORKERS": str(workers),
                    "SAGE_LOG_LEVEL": "WARNING",
                    **off,
                    # one bench key drives all the load: lift its per-key cap (rpm/tpm are
                    # the key's own, below), the limiter still runs on every request
                    "SAGE_MAX_CONCURRENT_PER_KEY": "0",
                },
            ),
        ),
    )


class RawHTTP:
    """One keep-alive HTTP/1.1 connection with the least client-side work (so the gateway, not
    the client, is what the figures measure)."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def request(self, path: str, body: bytes, key: str) -> None:
        auth = b"Authorization: Bearer %s\r\n" % key.encode() if key else b""
        self.sock.sendall(
            b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"%sContent-Length: %d\r\n\r\n%s" % (path.encode(), auth, len(body), body)
        )

    def read_head(self) -> dict[str, str]:
        status = self.file.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"gateway answered {status!r}")
        headers = {}
        while True:
            line = self.file.readline()
            if line in (b"\r\n", b""):
                return headers
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()

    def whole(self, path: str, body: bytes, key: str) -> bytes:
        self.request(path, body, key)
        headers = self.read_head()
        return self.file.read(int(headers["content-length"]))

    def first_event(self, path: str, body: bytes, key: str) -> float:
        """Seconds to the first SSE event with content; reads the rest of the stream."""
        start = time.perf_counter()
        self.request(path, body, key)
        headers = self.read_head()
        assert headers.get("transfer-encoding") == "chunked", headers
        first = None
        while True:
            size = int(self.file.readline().strip(), 16)
            chunk = self.file.read(size + 2)
            if first is None and b'"content"' in chunk:
                first = time.perf_counter() - start
            if size == 0:
                return first or 0.0


class RawChat:
    """The direct path's minimal client: a blocking stub and one prebuilt request."""

    def __init__(self, address: str, tokens: int, token: str | None = None) -> None:
        channel = authorized_channel(address) if token is None else grpc.insecure_channel(address)
        self.stub = llm_pb2_grpc.LLMServiceStub(channel)
        self.metadata = default_metadata() if token is None else ()
        self.request = llm_pb2.ChatRequest(
            model="mock",
            messages=[llm_pb2.ChatMessage(role=m["role"], content=m["content"]) for m in MESSAGES],
            sampling=llm_pb2.SamplingParams(max_tokens=tokens),
        )

    def latencies(self, n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            self.stub.Chat(self.request, metadata=self.metadata)
            out.append(time.perf_counter() - t)
        return out


class AsyncRawPool:
    """Keep-alive HTTP/1.1 connections on asyncio, for the open-loop run."""

    def __init__(self, address: str, size: int) -> None:
        self.host, _, port = address.rpartition(":")
        self.port = int(port)
        self.size = size
        self.idle: asyncio.Queue = asyncio.Queue()

    async def start(self) -> None:
        for _ in range(self.size):
            self.idle.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def post(self, request: bytes) -> None:
        reader, writer = await self.idle.get()
        try:
            writer.write(request)
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"gateway answered {status!r}")
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
        finally:
            self.idle.put_nowait((reader, writer))

    async def close(self) -> None:
        while not self.idle.empty():
            _, writer = self.idle.get_nowait()
            writer.close()


def http_request(path: str, body: bytes, key: str) -> bytes:
    auth = b"Authorization: Bearer %s\r\n" % key.encode() if key else b""
    return (
        b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"%sContent-Length: %d\r\n\r\n%s" % (path.encode(), auth, len(body), body)
    )


async def open_loop_figures(address: str, request: bytes, rate: float, seconds: float) -> dict:
    pool = AsyncRawPool(address, 64)
    await pool.start()
    try:
        result = await open_loop(rate, seconds, lambda: pool.post(request))
    finally:
        await pool.close()
    return result.figures()


def start_floor(workdir: Path) -> tuple[list[ManagedProcess], str]:
    """The raw uvicorn handler and an Envoy routing /v1/ to it as the mesh routes the gateway."""
    app_port, port, admin = free_port(), free_port(), free_port()
    app = ManagedProcess(
        "floor",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "floor_app:app",
            "--app-dir",
            str(Path(__file__).parent),
            "--host",
            "127.0.0.1",
            "--port",
            str(app_port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        workdir / "floor.log",
    ).start()
    infra.wait_port(app, app_port)
    eds = workdir / "floor-eds"
    envoy_config.write_eds(eds, "floor", [f"127.0.0.1:{app_port}"])
    config = workdir / "floor-envoy.yaml"
    envoy_config.write_atomic(
        config, envoy_config.bootstrap(port, admin, eds, {}, http_routes=[("/v1/", "floor")])
    )
    envoy = infra.envoy_process(workdir, config, base_id=port).start()
    infra.wait_port(envoy, port)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:  # until Envoy's health check admits the app
        try:
            RawHTTP(address).whole("/v1/chat/completions", b"{}", "")
            return [envoy, app], address
        except Exception:  # noqa: BLE001 - not routed yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def direct_latency(llm: LLMClient, n: int, tokens: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        llm.chat(MESSAGES, model="mock", max_tokens=tokens)
        out.append(time.perf_counter() - t)
    return out


def direct_ttft(llm: LLMClient, n: int, tokens: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        stream = llm.stream_deltas(MESSAGES, model="mock", max_tokens=tokens)
        for delta in stream:
            if delta["text"]:
                out.append(time.perf_counter() - t)
                break
        for _ in stream:
            pass
    return out


def wrk_run(
    url: str, body: bytes, key: str, seconds: int, connections: int, workdir: Path
) -> dict[str, float]:
    """wrk --latency: requests/s and the p50/p99 latency it measured under that load."""
    script = workdir / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n'
        f'wrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer {key}"\n'
    )
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    if "Non-2xx" in result.stdout:
        raise RuntimeError(f"errors under load:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not match:
        raise RuntimeError(f"wrk failed:\n{result.stdout}\n{result.stderr}")
    figures = {"rps": float(match.group(1))}
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    for pct in ("50", "99"):
        found = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", result.stdout, re.M)
        if found:
            figures[f"p{pct}_ms"] = float(found.group(1)) * scale[found.group(2)]
    return figures


def main() -> int:
    bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a minute")
    parser.add_argument(
        "--tokens", type=int, default=16, help="tokens per completion (mock engine)"
    )
    parser.add_argument("--workers", type=int, default=64, help="gateway pipeline workers")
    parser.add_argument("--gateways", type=int, default=1, help="gateway instances behind Envoy")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(
            "bench/gateway.py needs wrk (apt-get install wrk; listed in scripts/apt-packages.txt)",
            file=sys.stderr,
        )
        return 2
    n = 200 if args.quick else 1000
    seconds = 8 if args.quick else 20
    workdir = Path(tempfile.mkdtemp(prefix="sage-bench-gateway-"))
    mesh = Mesh(
        workdir / "run",
        topology(args.workers, args.gateways),
        ephemeral=True,
        log=lambda *a: None,
        secrets_file=os.environ["SAGE_SECRETS_FILE"],
    )
    open_mesh = Mesh(
        workdir / "run-no-auth",
        topology(args.workers, args.gateways, auth=False),
        ephemeral=True,
        log=lambda *a: None,
        secrets_file=os.environ["SAGE_SECRETS_FILE"],
    )
    try:
        endpoints = mesh.up(timeout=90)
        open_endpoints = open_mesh.up(timeout=90)
        key = KeyStore(KVClient(NAMESPACE, address=endpoints.instances["kv-0"])).create(
            "bench", "bench", rpm=10**9, tpm=10**12
        )[0]
        llm = LLMClient(address=endpoints.instances["llm-0"])
        open_llm = LLMClient(
            address=open_endpoints.instances["llm-0"], token=""
        )  # no credential at all
        body = json.dumps(
            {"model": "mock", "messages": MESSAGES, "max_tokens": args.tokens}
        ).encode()
        stream_body = json.dumps(
            {"model": "mock", "messages": MESSAGES, "max_tokens": args.tokens, "stream": True}
        ).encode()
        http = RawHTTP(endpoints.envoy)
        open_http = RawHTTP(open_endpoints.envoy)
        path = "/v1/chat/completions"
        assert (
            len(json.loads(http.whole(path, body, key))["choices"][0]["message"]["content"].split())
            == args.tokens
        )
        assert (
            len(
                json.loads(open_http.whole(path, body, ""))["choices"][0]["message"][
                    "content"
                ].split()
            )
            == args.tokens
        )

        # warm up every path, then interleave rounds so drift hits all alike
        raw = RawChat(endpoints.instances["llm-0"], args.tokens)
        open_raw = RawChat(open_endpoints.instances["llm-0"], args.tokens, token="")
        limited_key = KeyStore(KVClient(NAMESPACE, address=endpoints.instances["kv-0"])).create(
            "bench-limited", "bench-limited", rpm=10**6, tpm=10**8
        )[0]
        session_body = json.dumps(
            {
                "model": "mock",
                "messages": MESSAGES,
                "max_tokens": args.tokens,
                "session_id": "bench-session",
            }
        ).encode()
        floor_procs, floor_address = start_floor(workdir)
        floor_http = RawHTTP(floor_address)
        raw.latencies(50)
        open_raw.latencies(50)
        direct_latency(llm, 50, args.tokens)
        for _ in range(50):
            http.whole(path, body, key)
            open_http.whole(path, body, "")
        direct: list[float] = []
        gateway: list[float] = []
        direct_first: list[float] = []
        gateway_first: list[float] = []
        open_direct: list[float] = []
        open_gateway: list[float] = []
        direct_sdk: list[float] = []
        session: list[float] = []
        floor: list[float] = []
        rounds = 5
        for _ in range(rounds):
            direct += raw.latencies(n // rounds)
            direct_sdk += direct_latency(llm, n // rounds, args.tokens)
            for _ in range(n // rounds):
                t = time.perf_counter()
                http.whole(path, body, key)
                gateway.append(time.perf_counter() - t)
            for _ in range(n // rounds):
                t = time.perf_counter()
                http.whole(path, session_body, limited_key)
                session.append(time.perf_counter() - t)
            for _ in range(n // rounds):
                t = time.perf_counter()
                floor_http.whole(path, body, "")
                floor.append(time.perf_counter() - t)
            open_direct += open_raw.latencies(n // rounds)
            for _ in range(n // rounds):
                t = time.perf_counter()
                open_http.whole(path, body, "")
                open_gateway.append(time.perf_counter() - t)
            direct_first += direct_ttft(llm, n // (2 * rounds), args.tokens)
            gateway_first += [
                http.first_event(path, stream_body, key) for _ in range(n // (2 * rounds))
            ]
        load = wrk_run(f"http://{endpoints.envoy}{path}", body, key, seconds, 32, workdir)
        floor_load = wrk_run(f"http://{floor_address}{path}", body, "", seconds, 32, workdir)
        rps = load["rps"]
        request = http_request(path, body, key)
        open_figures = {
            share: asyncio.run(
                open_loop_figures(endpoints.envoy, request, share / 100 * rps, seconds / 2)
            )
            for share in (50, 80)
        }
        gateway_pid = int((workdir / "run" / "pids" / "gateway-0.pid").read_text())
        gateway_rss = rss_mb(gateway_pid)
    finally:
        for proc in locals().get("floor_procs", []):
            proc.stop()
        mesh.down(grace=3)
        open_mesh.down(grace=3)
        shutil.rmtree(workdir, ignore_errors=True)

    direct_p50 = statistics.median(direct) * 1000
    gateway_p50 = statistics.median(gateway) * 1000
    ttft_overhead = (statistics.median(gateway_first) - statistics.median(direct_first)) * 1000
    open_overhead = (statistics.median(open_gateway) - statistics.median(open_direct)) * 1000
    result = {
        "direct_p50_ms": round(direct_p50, 3),
        "gateway_p50_ms": round(gateway_p50, 3),
        "gateway_p99_ms": round(percentile(gateway, 0.99) * 1000, 3),
        "gateway_overhead_p50_ms": round(gateway_p50 - direct_p50, 3),
        "gateway_p50_ms_no_auth": round(statistics.median(open_gateway) * 1000, 3),
        "gateway_overhead_p50_ms_no_auth": round(open_overhead, 3),
        "direct_sdk_p50_ms": round(statistics.median(direct_sdk) * 1000, 3),
        "gateway_session_p50_ms": round(statistics.median(session) * 1000, 3),
        "floor_p50_ms": round(statistics.median(floor) * 1000, 3),
        "gateway_over_floor_p50_ms": round(gateway_p50 - statistics.median(floor) * 1000, 3),
        "gateway_rps": round(rps, 1),
        "gateway_wrk_p50_ms": round(load.get("p50_ms", float("nan")), 3),
        "gateway_wrk_p99_ms": round(load.get("p99_ms", float("nan")), 3),
        "floor_rps": round(floor_load["rps"], 1),
        "floor_wrk_p99_ms": round(floor_load.get("p99_ms", float("nan")), 3),
        **{
            f"open_loop_{share}pct_{name}": value
            for share, figures in open_figures.items()
            for name, value in figures.items()
        },
        "gateway_rss_mb": round(gateway_rss, 1),
        "direct_ttft_p50_ms": round(statistics.median(direct_first) * 1000, 3),
        "gateway_ttft_p50_ms": round(statistics.median(gateway_first) * 1000, 3),
        "ttft_overhead_ms": round(ttft_overhead, 3),
        "tokens": args.tokens,
        "gateway_instances": args.gateways,
        "requests_per_path": len(gateway),
        "target_overhead_p50_le_2ms": gateway_p50 - direct_p50 <= 2.0,
        "target_rps_ge_500": rps >= 500,
        "target_ttft_overhead_le_2ms": ttft_overhead <= 2.0,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "quick": args.quick,
        "n": n,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
