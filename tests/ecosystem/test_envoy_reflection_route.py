"""Envoy sends gRPC reflection (v1alpha and v1) to one cluster whose instances reflect the whole
mesh; the live check is tests/clients/test_grpcurl_doc.py (grpcurl through Envoy)."""

from __future__ import annotations

from pathlib import Path

from sage_deploy.envoy_config import REFLECTION_PREFIX, bootstrap
from sage_runtime.reflection import mesh_services, reflected_names


def _routes(config: dict) -> list[dict]:
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    return manager["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]


def _reflection_cluster(config: dict) -> str | None:
    for route in _routes(config):
        if route["match"].get("prefix") == REFLECTION_PREFIX:
            return route["route"]["cluster"]
    return None


def test_reflection_goes_to_the_kv_cluster_when_there_is_one(tmp_path: Path) -> None:
    services = {"vdb": "sage.vdb.v1.VDBService", "kv": "sage.kv.v1.KVService"}
    assert _reflection_cluster(bootstrap(1, 2, tmp_path, services)) == "kv"
    assert _reflection_cluster(bootstrap(1, 2, tmp_path, {"vdb": services["vdb"]})) == "vdb"


def test_no_grpc_service_no_reflection_route(tmp_path: Path) -> None:
    assert _reflection_cluster(bootstrap(1, 2, tmp_path, {}, [("/v1/", "gateway")])) is None


def test_every_server_reflects_every_service_of_the_stub_package() -> None:
    protos = Path(__file__).resolve().parents[2] / "protos"
    declared = {
        path.parent.relative_to(protos).as_posix().replace("/", ".")
        for path in protos.rglob("*.proto")
        if "\nservice " in path.read_text()
    }
    assert {name.rsplit(".", 1)[0] for name in mesh_services()} == declared
    names = reflected_names(["sage.kv.v1.KVService"])
    assert "grpc.reflection.v1.ServerReflection" in names
    assert "grpc.reflection.v1alpha.ServerReflection" in names
