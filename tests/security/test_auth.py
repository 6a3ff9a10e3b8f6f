"""Authenticated by default: every guarded RPC of every service refuses an anonymous caller
(directly, through Envoy as gRPC, grpc-web and JSON), a caller with a token the mesh did not
issue, and a principal without the RPC's role; the resources one principal owns (the
gateway's key and session namespaces, the Memory service's namespace and collection) refuse
every other principal but admin. Each probe checks that nothing changed."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from sage_client import KVClient, PermissionDenied, Unauthenticated
from sage_client.channels import authorized_channel
from sage_proto.common.v1 import common_pb2, common_pb2_grpc
from sage_proto.kernel.v1 import kernel_pb2, kernel_pb2_grpc
from sage_proto.kv.v1 import kv_pb2, kv_pb2_grpc
from sage_proto.llm.v1 import llm_pb2, llm_pb2_grpc
from sage_proto.memory.v1 import memory_pb2, memory_pb2_grpc
from sage_proto.vdb.v1 import vdb_pb2, vdb_pb2_grpc
from tests.clients.conftest import LiveMesh
from tests.conftest import spawn_service

# One read per service: (service, stub class, method, request).
PROBES: list[tuple[str, Callable[[Any], Any], str, Any]] = [
    (
        "kv",
        kv_pb2_grpc.KVServiceStub,
        "Scan",
        kv_pb2.ScanRequest(namespace="gateway-keys", include_values=True),
    ),
    ("vdb", vdb_pb2_grpc.VDBServiceStub, "ListCollections", vdb_pb2.ListCollectionsRequest()),
    ("llm", llm_pb2_grpc.LLMServiceStub, "ListModels", llm_pb2.ListModelsRequest()),
    (
        "memory",
        memory_pb2_grpc.MemoryServiceStub,
        "SearchMemories",
        memory_pb2.SearchMemoriesRequest(query_text="x", top_k=1),
    ),
    ("kernel", kernel_pb2_grpc.JobServiceStub, "ListJobs", kernel_pb2.ListJobsRequest()),
]
IDS = [p[0] for p in PROBES]


def _code(
    address: str,
    stub: Callable[[Any], Any],
    method: str,
    request: Any,
    metadata: tuple[tuple[str, str], ...] = (),
) -> grpc.StatusCode:
    with grpc.insecure_channel(address) as channel:
        try:
            call = getattr(stub(channel), method)(request, timeout=10, metadata=metadata)
            if hasattr(call, "__iter__") and not hasattr(call, "ListFields"):
                list(call)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("probe", PROBES, ids=IDS)
def test_an_anonymous_call_is_unauthenticated_directly_and_through_envoy(
    live_mesh: LiveMesh, probe
) -> None:
    service, stub, method, request = probe
    live_mesh.require(service)
    for address in (live_mesh.instances[service], live_mesh.envoy):
        assert _code(address, stub, method, request) == grpc.StatusCode.UNAUTHENTICATED, (
            service,
            address,
        )
        forged = (("authorization", "Bearer not-a-token-this-mesh-issued"),)
        assert _code(address, stub, method, request, forged) == grpc.StatusCode.UNAUTHENTICATED, (
            service,
            address,
        )


@pytest.mark.parametrize("probe", PROBES, ids=IDS)
def test_a_user_principal_is_denied_every_internal_service(
    live_mesh: LiveMesh, tokens, probe
) -> None:
    service, stub, method, request = probe
    live_mesh.require(service)
    user = (("authorization", f"Bearer {tokens['tester']}"),)
    assert _code(live_mesh.envoy, stub, method, request, user) == grpc.StatusCode.PERMISSION_DENIED


def test_reflection_and_echo_need_a_credential_but_health_does_not(live_mesh: LiveMesh) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    kv = live_mesh.instances["kv"]
    listing = reflection_pb2.ServerReflectionRequest(list_services="")
    with grpc.insecure_channel(kv) as channel:
        with pytest.raises(grpc.RpcError) as info:
            list(
                reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                    iter([listing]), timeout=5
                )
            )
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as info:
            common_pb2_grpc.DiagnosticsServiceStub(channel).Echo(
                common_pb2.EchoRequest(), timeout=5
            )
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert (
            health_pb2_grpc.HealthStub(channel)
            .Check(health_pb2.HealthCheckRequest(), timeout=5)
            .status
            == 1
        )
    with authorized_channel(kv) as channel:
        replies = list(
            reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([listing]), timeout=5
            )
        )
        assert "sage.kv.v1.KVService" in {s.name for s in replies[0].list_services_response.service}


def _grpc_web_status(live_mesh: LiveMesh, headers: dict[str, str]) -> str:
    body = kv_pb2.ScanRequest(namespace="gateway-keys").SerializeToString()
    reply = httpx.post(
        f"http://{live_mesh.envoy}/sage.kv.v1.KVService/Scan",
        content=struct.pack(">BI", 0, len(body)) + body,
        timeout=10,
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", **headers},
    )
    assert reply.status_code == 200, reply.text
    if "grpc-status" in reply.headers:  # trailers-only answer
        return reply.headers["grpc-status"]
    trailer = reply.content[reply.content.rfind(b"\x80") + 5 :].decode()
    return dict(line.split(":", 1) for line in trailer.strip().split("\r\n"))["grpc-status"].strip()


def test_grpc_web_through_envoy_needs_a_credential(live_mesh: LiveMesh, tokens) -> None:
    assert _grpc_web_status(live_mesh, {}) == str(grpc.StatusCode.UNAUTHENTICATED.value[0])
    assert _grpc_web_status(live_mesh, {"authorization": f"Bearer {tokens['gateway']}"}) == "0"


def test_the_json_transcoder_needs_a_credential(live_mesh: LiveMesh, tokens) -> None:
    url = f"http://{live_mesh.envoy}/v1/kv/namespaces/gateway-keys/keys"
    anonymous = httpx.get(url, timeout=10)
    assert anonymous.status_code == 401, anonymous.text
    assert "credential" in anonymous.json()["message"]
    denied = httpx.get(url, timeout=10, headers={"authorization": f"Bearer {tokens['service']}"})
    assert denied.status_code == 403, denied.text


def test_a_forged_api_key_or_planted_history_is_refused_to_all_but_the_gateway(
    live_mesh: LiveMesh, tokens
) -> None:
    admin = KVClient("gateway-keys", address=live_mesh.envoy, token=tokens["admin"])
    before = list(admin.scan())
    for principal in ("service", "memory", "jobs"):
        for namespace in ("gateway-keys", "gateway-sessions"):
            kv = KVClient(namespace, address=live_mesh.envoy, token=tokens[principal])
            with pytest.raises(PermissionDenied, match="belongs to gateway"):
                kv.put("forged", b'{"roles": ["admin"]}')
            with pytest.raises(PermissionDenied):
                list(kv.scan())
            with pytest.raises(PermissionDenied):
                kv.clear()
    assert list(admin.scan()) == before
    assert (
        KVClient("gateway-sessions", address=live_mesh.envoy, token=tokens["admin"]).batch_get(
            ["forged"]
        )
        == {}
    )
    gateway = KVClient("gateway-sessions", address=live_mesh.envoy, token=tokens["gateway"])
    gateway.put("owned", b"1")  # its owner may
    gateway.delete("owned")


def test_the_memory_namespace_and_collection_belong_to_the_memory_service(
    live_mesh: LiveMesh, tokens
) -> None:
    live_mesh.require("vdb")
    kv = KVClient("sage-memory", address=live_mesh.envoy, token=tokens["gateway"])
    with pytest.raises(PermissionDenied, match="belongs to memory"):
        list(kv.scan())
    with grpc.insecure_channel(live_mesh.envoy) as channel:
        with pytest.raises(grpc.RpcError) as info:
            vdb_pb2_grpc.VDBServiceStub(channel).Search(
                vdb_pb2.SearchRequest(collection="sage_memories", top_k=1),
                timeout=10,
                metadata=(("authorization", f"Bearer {tokens['gateway']}"),),
            )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


def _marker_job(marker: Path) -> Any:
    from sage_client import LocalEnvironment

    def touch(x: int) -> int:
        import os

        os.system(f"touch {marker}")  # what an attacker's payload does
        return x

    env = LocalEnvironment("attack")
    env.from_batch([1]).map(touch).sink(lambda _x: None)
    return env.graph


def test_submitting_code_needs_the_jobs_role(live_mesh: LiveMesh, tokens, tmp_path: Path) -> None:
    from sage_client import JobClient

    live_mesh.require("kernel")
    marker = tmp_path / "pwned"
    graph = _marker_job(marker)
    with pytest.raises(Unauthenticated):
        JobClient(address=live_mesh.envoy, token="").submit(graph)
    for principal in ("service", "gateway", "tester"):
        with pytest.raises(PermissionDenied, match="jobs"):
            JobClient(address=live_mesh.envoy, token=tokens[principal]).submit(graph)
    assert not marker.exists()
    listed = JobClient(address=live_mesh.envoy, token=tokens["admin"]).list()
    assert all(job.name != "attack" for job in listed)


def test_a_service_without_credentials_refuses_to_start(tmp_path: Path) -> None:
    service = spawn_service(
        tmp_path, "kv-open", "sage_kv", wait=False, secrets_file="", backend="memory"
    )
    assert service.proc.proc.wait(20) == 2
    assert (
        "no credentials configured" in service.proc.tail()
        and "SAGE_SECRETS_FILE" in service.proc.tail()
    )


def test_allow_anonymous_serves_a_development_instance(tmp_path: Path) -> None:
    service = spawn_service(
        tmp_path, "kv-dev", "sage_kv", secrets_file="", allow_anonymous="true", backend="memory"
    )
    try:
        assert KVClient("dev", address=service.address, token="").put("k", b"v") == 1
        assert "allow_anonymous is on" in service.proc.tail()
    finally:
        service.proc.stop(grace=2)


def test_sage_auth_prints_a_principals_token_and_lists_roles_without_tokens(tokens) -> None:
    import os
    import subprocess
    import sys

    sage = [sys.executable, "-m", "sage_cli.main"]
    token = subprocess.run(
        [*sage, "auth", "token", "--principal", "jobs"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    assert token == tokens["jobs"]
    listing = subprocess.run(
        [*sage, "auth", "principals"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert "jobs" in listing and "admin" in listing
    assert all(t not in listing for t in tokens.values())
    missing = subprocess.run(
        [*sage, "auth", "token", "--principal", "nobody"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ},
    )
    assert missing.returncode == 2 and "no principal 'nobody'" in missing.stderr
