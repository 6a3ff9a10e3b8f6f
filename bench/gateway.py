#!/usr/bin/env python3
"""Gateway overhead: the same mock LLM reached directly over gRPC and through Envoy + gateway.

- direct_p50_ms: non-streaming Chat to the LLM service over gRPC (blocking SDK client).
- gateway_p50_ms / gateway_p99_ms: the same chat as POST /v1/chat/completions through Envoy
  and the gateway (API key auth, the chat pipeline), one request at a time, keep-alive.
- gateway_rps: non-streaming, 32 concurrent connections (wrk, a C load generator, so the client
  is not what is measured), through Envoy.
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

from sage_client import KVClient
from sage_client.llm import LLMClient
from sage_deploy.launcher import Mesh
from sage_deploy.topology import ServiceDef, Topology
from sage_gateway.keys import NAMESPACE, KeyStore

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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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


def wrk_rps(
    url: str, body: bytes, key: str, seconds: int, connections: int, workdir: Path
) -> float:
    script = workdir / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n'
        f'wrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer {key}"\n'
    )
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    if "Non-2xx" in result.stdout:
        raise RuntimeError(f"errors under load:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not match:
        raise RuntimeError(f"wrk failed:\n{result.stdout}\n{result.stderr}")
    return float(match.group(1))


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
        direct_latency(llm, 50, args.tokens)
        direct_latency(open_llm, 50, args.tokens)
        for _ in range(50):
            http.whole(path, body, key)
            open_http.whole(path, body, "")
        direct: list[float] = []
        gateway: list[float] = []
        direct_first: list[float] = []
        gateway_first: list[float] = []
        open_direct: list[float] = []
        open_gateway: list[float] = []
        rounds = 5
        for _ in range(rounds):
            direct += direct_latency(llm, n // rounds, args.tokens)
            for _ in range(n // rounds):
                t = time.perf_counter()
                http.whole(path, body, key)
                gateway.append(time.perf_counter() - t)
            open_direct += direct_latency(open_llm, n // rounds, args.tokens)
            for _ in range(n // rounds):
                t = time.perf_counter()
                open_http.whole(path, body, "")
                open_gateway.append(time.perf_counter() - t)
            direct_first += direct_ttft(llm, n // (2 * rounds), args.tokens)
            gateway_first += [
                http.first_event(path, stream_body, key) for _ in range(n // (2 * rounds))
            ]
        rps = wrk_rps(f"http://{endpoints.envoy}{path}", body, key, seconds, 32, workdir)
    finally:
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
        "gateway_rps": round(rps, 1),
        "direct_ttft_p50_ms": round(statistics.median(direct_first) * 1000, 3),
        "gateway_ttft_p50_ms": round(statistics.median(gateway_first) * 1000, 3),
        "ttft_overhead_ms": round(ttft_overhead, 3),
        "tokens": args.tokens,
        "gateway_instances": args.gateways,
        "requests_per_path": len(gateway),
        "target_overhead_p50_le_2ms": gateway_p50 - direct_p50 <= 2.0,
        "target_rps_ge_500": rps >= 500,
        "target_ttft_overhead_le_2ms": ttft_overhead <= 2.0,
        "litellm_published_median_overhead_ms": 12,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "quick": args.quick,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
