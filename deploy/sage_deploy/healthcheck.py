"""Container health probe: ``python -m sage_deploy.healthcheck HOST:PORT [SERVICE]`` exits 0 when SERVING;
``--http HOST:PORT`` probes an HTTP service (the gateway) with ``GET /healthz`` instead."""

from __future__ import annotations

import sys
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def _http(address: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=3) as reply:
            return 0 if reply.status == 200 else 1
    except OSError as exc:
        print(f"{address}: {exc}", file=sys.stderr)
        return 1


def main() -> int:
    if sys.argv[1] == "--http":
        return _http(sys.argv[2])
    address, service = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=3
            )
        except grpc.RpcError as exc:
            print(f"{address}: {exc.code().name}", file=sys.stderr)
            return 1
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main())
