"""Every registered instance, read from etcd, with its health: gRPC health for gRPC services,
``GET /healthz`` for HTTP ones (metadata ``protocol: http``, e.g. the gateway)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sage_client.discovery import KEY_PREFIX, connect_etcd

PREFIX = KEY_PREFIX.encode()


async def _health(address: str) -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
            return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except grpc.RpcError as exc:
            return f"UNREACHABLE ({exc.code().name})"


def _http_health(address: str) -> str:
    try:
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=2) as reply:
            return "SERVING" if reply.status == 200 else "NOT_SERVING"
    except urllib.error.HTTPError:
        return "NOT_SERVING"
    except OSError as exc:
        return f"UNREACHABLE ({exc})"


async def _probe(row: dict) -> str:
    if row["metadata"].get("protocol") == "http":
        return await asyncio.to_thread(_http_health, row["address"])
    return await _health(row["address"])


def probe(address: str, http: bool = False) -> str:
    """The health of one instance: SERVING, NOT_SERVING or UNREACHABLE (...)."""
    return _http_health(address) if http else asyncio.run(_health(address))


async def _status(etcd: str, credentials: tuple[str, str] | None | bool = True) -> list[dict]:
    host, _, port = etcd.rpartition(":")
    client = await connect_etcd(host, int(port), timeout=3, credentials=credentials)
    try:
        listing = await client.get_prefix(PREFIX)
    finally:
        await client.close()
    rows = []
    for kv in listing:
        service, _, instance = kv.key[len(PREFIX) :].decode().partition("/")
        info = json.loads(kv.value)
        rows.append(
            {
                "service": service,
                "instance": instance,
                "address": info["address"],
                "version": info.get("version", ""),
                "metadata": info.get("metadata", {}),
            }
        )
    healths = await asyncio.gather(*(_probe(r) for r in rows))
    for row, health in zip(rows, healths, strict=True):
        row["health"] = health
    return sorted(rows, key=lambda r: (r["service"], r["instance"]))


def mesh_status(etcd: str, credentials: tuple[str, str] | None | bool = True) -> list[dict]:
    """``credentials``: etcd's (user, password); True: those of this process's secrets file."""
    return asyncio.run(_status(etcd, credentials))
