"""Health, reflection, graceful drain, auth, and a backend that goes away and comes back."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from sage_client import KVClient, Unauthenticated, Unavailable
from sage_client.channels import authorized_channel
from sage_runtime.registration import service_key
from tests.conftest import Infra, start_redis
from tests.mesh.test_discovery import _etcd_get


def _health(address: str, service: str = "") -> str:
    with authorized_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def test_reflection_lists_and_describes_the_service(start_service) -> None:
    kv = start_service("sage_kv")
    with authorized_channel(kv.address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {
            "sage.kv.v1.KVService",
            "grpc.health.v1.Health",
            "sage.common.v1.DiagnosticsService",
        } <= services
        service = DescriptorPool(database).FindServiceByName("sage.kv.v1.KVService")
        method = service.methods_by_name["Put"]
        assert method.input_type.full_name == "sage.kv.v1.PutRequest"
        assert "expected_version" in method.input_type.fields_by_name


def test_health_is_serving_for_the_server_and_the_service(start_service) -> None:
    kv = start_service("sage_kv")
    assert _health(kv.address) == "SERVING"
    assert _health(kv.address, "sage.kv.v1.KVService") == "SERVING"


def test_sigterm_lets_in_flight_call_finish_while_health_reads_not_serving(
    etcd: Infra, tmp_path: Path, start_service
) -> None:
    redis = start_redis(tmp_path / "redis")
    try:
        kv = start_service(
            "sage_kv",
            backend="redis",
            redis_url=f"redis://{redis.address}/0",
            etcd_endpoints=etcd.address,
            grace_period_s=20,
        )
        client = KVClient("drain", address=kv.address, timeout=30)
        client.put("k", b"v")
        os.kill(redis.proc.pid, signal.SIGSTOP)  # the next call now waits on Redis
        result: dict[str, object] = {}
        caller = threading.Thread(target=lambda: result.setdefault("value", client.get("k")))
        caller.start()
        time.sleep(0.3)
        kv.proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + 3
        while _health(kv.address) != "NOT_SERVING" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _health(kv.address, "sage.kv.v1.KVService") == "NOT_SERVING"
        assert (
            _etcd_get(etcd, service_key("kv", kv.instance_id)) is None
        )  # deregistered while draining
        assert kv.proc.proc.poll() is None and caller.is_alive()
        os.kill(redis.proc.pid, signal.SIGCONT)
        caller.join(10)
        assert result.get("value") == b"v"
        assert kv.proc.proc.wait(10) == 0
    finally:
        os.kill(redis.proc.pid, signal.SIGCONT)
        redis.proc.stop()


def test_redis_restart_under_the_service(tmp_path: Path, start_service) -> None:
    redis = start_redis(tmp_path / "redis")
    kv = start_service("sage_kv", backend="redis", redis_url=f"redis://{redis.address}/0")
    client = KVClient("restart", address=kv.address, timeout=5)
    client.put("survives", b"yes")
    redis.proc.stop()
    with pytest.raises(Unavailable) as info:
        client.get("survives")
    assert info.value.reason == "ERROR_REASON_BACKEND_UNAVAILABLE" and "Redis" in info.value.message
    deadline = time.monotonic() + 5
    while _health(kv.address) != "NOT_SERVING" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _health(kv.address) == "NOT_SERVING"

    redis = start_redis(tmp_path / "redis", port=redis.port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                assert client.get("survives") == b"yes"
                break
            except Unavailable:
                assert time.monotonic() < deadline, "service did not resume after Redis came back"
                time.sleep(0.1)
        deadline = time.monotonic() + 5
        while _health(kv.address) != "SERVING" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _health(kv.address) == "SERVING"
    finally:
        redis.proc.stop()


def test_auth_tokens_are_accepted_beside_the_mesh_secrets(start_service) -> None:
    kv = start_service("sage_kv", auth_tokens="s3cret")
    with pytest.raises(Unauthenticated):
        KVClient(address=kv.address, token="").put("a", b"1")  # "" = send no credential
    with pytest.raises(Unauthenticated):
        KVClient(address=kv.address, token="wrong").put("a", b"1")
    assert KVClient(address=kv.address, token="s3cret").put("a", b"1") == 1
    assert (
        KVClient(address=kv.address).put("a", b"2", expected_version=1) == 2
    )  # the mesh's admin token
    assert _health(kv.address) == "SERVING"  # health stays open for probes


def test_bad_configuration_exits_with_a_message_naming_the_key(start_service) -> None:
    service = start_service("sage_kv", wait=False, port="http")
    assert service.proc.proc.wait(20) == 2
    assert "port='http'" in service.proc.tail() and "SAGE_PORT" in service.proc.tail()
