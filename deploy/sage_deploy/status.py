"""Every registered instance, read from etcd, with its health: gRPC health for gRPC services,
``GET /healthz`` for HTTP ones (metadata ``protocol: http``, e.g. the gateway), a Celery control
ping through the broker for task workers (``protocol: celery``; without a broker to ask, their
live lease is all there is: ``REGISTERED``)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sage_client.discovery import KEY_PREFIX, connect_etcd_any

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


def celery_health(hostnames: list[str], broker: str, timeout: float = 2.0) -> dict[str, str]:
    """Each Celery worker's health: SERVING when it answers a control ping on ``broker``."""
    from celery import Celery

    from sage_client.task_protocol import celery_settings

    app = Celery("sage-status", set_as_current=False)
    app.conf.update(celery_settings(broker))
    try:
        replies = app.control.ping(destination=hostnames, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - the broker unreachable: every worker is
        return {h: f"UNREACHABLE (broker: {exc})" for h in hostnames}
    finally:
        app.close()
    answered = {name for reply in replies for name in reply}
    return {h: "SERVING" if h in answered else "UNREACHABLE (no ping reply)" for h in hostnames}


def task_broker(run_dir: str | Path = "run") -> str | None:
    """The task queue's broker as this process may reach it (SAGE_TASKS_BROKER_URL,
    SAGE_REDIS_URL, else the Redis of the mesh under ``run_dir``) with the ``tasks`` user of
    the secrets file; None when there is none."""
    import os

    from sage_client import credentials
    from sage_client.task_protocol import BROKER_ENV, REDIS_ENV, _mesh_redis_url, broker_url

    path = credentials.secrets_path()
    try:
        secrets = credentials.load_secrets(path) if path else None
    except credentials.CredentialsError:
        secrets = None
    url = os.environ.get(BROKER_ENV) or os.environ.get(REDIS_ENV) or _mesh_redis_url(Path(run_dir))
    return broker_url(url, secrets) if url else None


async def _probe(row: dict) -> str:
    if row["metadata"].get("protocol") == "http":
        return await asyncio.to_thread(_http_health, row["address"])
    return await _health(row["address"])


async def _probe_all(rows: list[dict], broker: str | None) -> list[str]:
    workers = [r["address"] for r in rows if r["metadata"].get("protocol") == "celery"]
    pinged: dict[str, str] = {}
    if workers and broker:
        pinged = await asyncio.to_thread(celery_health, workers, broker)

    async def one(row: dict) -> str:
        if row["metadata"].get("protocol") == "celery":
            return pinged.get(row["address"], "REGISTERED")
        return await _probe(row)

    return await asyncio.gather(*(one(r) for r in rows))


def probe(address: str, http: bool = False) -> str:
    """The health of one instance: SERVING, NOT_SERVING or UNREACHABLE (...)."""
    return _http_health(address) if http else asyncio.run(_health(address))


async def _status(
    etcd: str, credentials: tuple[str, str] | None | bool = True, broker: str | None = None
) -> list[dict]:
    client, _ = await connect_etcd_any(etcd, timeout=3, credentials=credentials)
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
    healths = await _probe_all(rows, broker)
    for row, health in zip(rows, healths, strict=True):
        row["health"] = health
    return sorted(rows, key=lambda r: (r["service"], r["instance"]))


def mesh_status(
    etcd: str, credentials: tuple[str, str] | None | bool = True, broker: str | None = None
) -> list[dict]:
    """``credentials``: etcd's (user, password); True: those of this process's secrets file.
    ``broker``: the task queue's Redis URL (with its user), to ping the task workers on."""
    return asyncio.run(_status(etcd, credentials, broker))
