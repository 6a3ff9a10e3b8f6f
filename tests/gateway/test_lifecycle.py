"""Session expiry and the gateway process lifecycle (SIGTERM drain, registration)."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable

import httpx

from sage_client import AsyncKVClient, KVClient
from sage_gateway.sessions import SessionIndex, SessionWriter
from tests.conftest import Infra, ServiceProcess
from tests.gateway.conftest import LiveMesh


async def test_cleanup_deletes_only_sessions_idle_past_the_ttl(live_mesh: LiveMesh) -> None:
    kv_address = live_mesh.endpoints.instances["kv-0"]
    writer = SessionWriter(KVClient(address=kv_address), ttl_s=0.5)
    old, fresh = f"old-{uuid.uuid4().hex[:6]}", f"fresh-{uuid.uuid4().hex[:6]}"
    writer.append("ttl-user", old, [{"role": "user", "content": "hi"}], memory=False)
    time.sleep(0.6)
    writer.append("ttl-user", fresh, [{"role": "user", "content": "hi"}], memory=False)
    index = SessionIndex(AsyncKVClient(address=kv_address), ttl_s=0.5)
    assert [s.id for s in await index.list("ttl-user")] == [fresh]
    assert await index.cleanup("ttl-user") == 1
    assert await index.find("ttl-user", fresh) is not None
    assert writer.load("ttl-user", old) is None


def test_sigterm_deregisters_and_exits_cleanly(
    etcd: Infra, start_service: Callable[..., ServiceProcess]
) -> None:
    from sage_deploy.status import mesh_status

    gateway = start_service("sage_gateway", etcd_endpoints=etcd.address, require_auth="false")
    assert httpx.get(f"http://{gateway.address}/healthz").status_code == 200
    assert gateway.instance_id in [
        r["instance"] for r in mesh_status(etcd.address) if r["service"] == "gateway"
    ]
    gateway.proc.signal(signal.SIGTERM)
    assert gateway.proc.proc is not None and gateway.proc.proc.wait(15) == 0
    assert gateway.instance_id not in [r["instance"] for r in mesh_status(etcd.address)]
