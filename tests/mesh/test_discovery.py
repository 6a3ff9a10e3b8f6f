"""Registration in etcd, client-side discovery, load sharing and failover."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request

import pytest

from sage_client import KVClient
from sage_client.discovery import EtcdResolver
from sage_runtime.registration import service_key
from tests.conftest import Infra

TTL = 2


def _etcd_get(etcd: Infra, key: str) -> bytes | None:
    import asyncio

    import aetcd

    async def get() -> bytes | None:
        client = aetcd.Client(host="127.0.0.1", port=etcd.port)
        try:
            result = await client.get(key.encode())
            return None if result is None else result.value
        finally:
            await client.close()

    return asyncio.run(get())


def _calls_served(metrics_port: int, method: str) -> float:
    text = (
        urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2)
        .read()
        .decode()
    )
    total = 0.0
    for line in text.splitlines():
        if (
            line.startswith("sage_grpc_calls_total{")
            and f'method="{method}"' in line
            and 'code="OK"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_instance_registers_under_a_lease_with_its_address(etcd: Infra, start_service) -> None:
    kv = start_service("sage_kv", etcd_endpoints=etcd.address, registration_ttl_s=TTL)
    value = _etcd_get(etcd, service_key("kv", kv.instance_id))
    assert value is not None
    record = json.loads(value)
    assert record["address"] == kv.address
    assert {"version", "started_at", "metadata"} <= record.keys()


def test_graceful_stop_deregisters_at_once(etcd: Infra, start_service) -> None:
    kv = start_service("sage_kv", etcd_endpoints=etcd.address, registration_ttl_s=30)
    key = service_key("kv", kv.instance_id)
    assert _etcd_get(etcd, key) is not None
    assert kv.proc.stop(grace=5) == 0
    assert _etcd_get(etcd, key) is None


def test_two_instances_share_calls(etcd: Infra, redis_server: Infra, start_service) -> None:
    common = dict(
        etcd_endpoints=etcd.address,
        registration_ttl_s=TTL,
        backend="redis",
        redis_url=f"redis://{redis_server.address}/1",
        metrics_port=0,
    )
    a, b = start_service("sage_kv", **common), start_service("sage_kv", **common)
    resolver = EtcdResolver([etcd.address])
    client = KVClient("share", resolver=resolver)
    client.put("x", b"1")
    for _ in range(40):
        assert client.get("x") == b"1"
    method = "/sage.kv.v1.KVService/Get"
    served = [_calls_served(s.info["metrics_port"], method) for s in (a, b)]
    assert sum(served) == 40 and min(served) >= 10, served
    resolver.close()


def test_killed_instance_is_dropped_within_ttl_and_calls_keep_succeeding(
    etcd: Infra, redis_server: Infra, start_service
) -> None:
    common = dict(
        etcd_endpoints=etcd.address,
        registration_ttl_s=TTL,
        backend="redis",
        redis_url=f"redis://{redis_server.address}/2",
    )
    a, b = start_service("sage_kv", **common), start_service("sage_kv", **common)
    resolver = EtcdResolver([etcd.address])
    client = KVClient("failover", resolver=resolver, timeout=5)
    client.put("x", b"alive")
    assert {i.address for i in resolver.instances("kv")} >= {a.address, b.address}

    os.kill(a.proc.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    gone_after = None
    while time.monotonic() - killed_at < TTL + 3:
        assert client.get("x") == b"alive"  # retried on the live instance when it hits the dead one
        if gone_after is None and a.address not in {i.address for i in resolver.instances("kv")}:
            gone_after = time.monotonic() - killed_at
            break
        time.sleep(0.05)
    assert gone_after is not None and gone_after <= TTL + 1, (
        f"still listed {gone_after}s after kill -9"
    )
    for _ in range(20):
        assert client.get("x") == b"alive"
    resolver.close()


def test_registration_refuses_a_duplicate_instance_id(etcd: Infra, start_service) -> None:
    first = start_service("sage_kv", etcd_endpoints=etcd.address, instance_id="kv-dup")
    second = start_service("sage_kv", wait=False, etcd_endpoints=etcd.address, instance_id="kv-dup")
    assert second.proc.proc.wait(20) == 3
    assert "already registered" in second.proc.tail()
    assert first.proc.proc.poll() is None


def test_static_addresses_from_environment(start_service, monkeypatch: pytest.MonkeyPatch) -> None:
    from sage_client.discovery import EnvResolver

    kv = start_service("sage_kv")
    monkeypatch.setenv("SAGE_KV_ADDR", kv.address)
    client = KVClient("static", resolver=EnvResolver())
    client.put("a", b"b")
    assert client.get("a") == b"b"


def test_missing_configuration_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from sage_client import Unavailable
    from sage_client.discovery import EnvResolver

    monkeypatch.delenv("SAGE_KV_ADDR", raising=False)
    monkeypatch.delenv("SAGE_ETCD_ENDPOINTS", raising=False)
    with pytest.raises(Unavailable, match="SAGE_KV_ADDR"):
        KVClient(resolver=EnvResolver()).get("a")


def test_lost_registration_stops_serving_until_re_registered(tmp_path, start_service) -> None:
    from tests.conftest import start_etcd
    from tests.mesh.test_lifecycle import _health

    etcd = start_etcd(tmp_path / "etcd")
    try:
        kv = start_service("sage_kv", etcd_endpoints=etcd.address, registration_ttl_s=TTL)
        assert _health(kv.address) == "SERVING"
        os.kill(etcd.proc.pid, signal.SIGSTOP)  # renewals now fail
        deadline = time.monotonic() + 3 * TTL + 3
        while _health(kv.address) != "NOT_SERVING":
            assert time.monotonic() < deadline, (
                "still SERVING although the lease could not be renewed"
            )
            time.sleep(0.1)
        os.kill(etcd.proc.pid, signal.SIGCONT)
        deadline = time.monotonic() + 3 * TTL + 5
        while _health(kv.address) != "SERVING":
            assert time.monotonic() < deadline, "did not re-register after etcd came back"
            time.sleep(0.1)
        assert _etcd_get(etcd, service_key("kv", kv.instance_id)) is not None
    finally:
        os.kill(etcd.proc.pid, signal.SIGCONT)
        etcd.proc.stop()
