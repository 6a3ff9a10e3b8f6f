"""A live mesh for the client tests: etcd, Redis, every service whose server is on this
branch (KV, VDB, LLM with its mock engine, Memory), and Envoy in front, on ephemeral ports.

Clients in other languages reach the services through Envoy, as they would in a deployment;
reflection is checked on each instance directly (Envoy routes by service, so it cannot
answer reflection for the whole mesh)."""
from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sage_deploy.launcher import Mesh
from sage_deploy.topology import ServiceDef, Topology, load_topology


@dataclass(frozen=True)
class ClientService:
    """A service the clients are tested against: its server module and its gRPC name."""

    name: str
    module: str
    grpc_service: str
    env: tuple[tuple[str, str], ...] = ()


SERVICES = (
    ClientService("kv", "sage_kv", "sage.kv.v1.KVService", (("SAGE_BACKEND", "memory"),)),
    ClientService("vdb", "sage_vdb", "sage.vdb.v1.VDBService"),
    ClientService("llm", "sage_llm", "sage.llm.v1.LLMService",
                  (("SAGE_BACKEND", "mock"), ("SAGE_EMBEDDINGS", "false"))),
    ClientService("memory", "sage_memory", "sage.memory.v1.MemoryService"),
)


def on_branch(service: ClientService) -> bool:
    return importlib.util.find_spec(service.module) is not None


@dataclass(frozen=True)
class LiveMesh:
    envoy: str
    instances: dict[str, str]  # service name -> address of its one instance

    def require(self, service: str) -> None:
        """Skip the calling test when ``service``'s server has not landed on this branch."""
        if service not in self.instances:
            spec = next(s for s in SERVICES if s.name == service)
            pytest.skip(f"the {service} service ({spec.module}) is not on this branch yet")


def client_topology() -> Topology:
    base = load_topology()
    services = tuple(
        ServiceDef(name=s.name, module=s.module, grpc_service=s.grpc_service, port=0, metrics_port=0,
                   env=dict(s.env))
        for s in SERVICES if on_branch(s)
    )
    return Topology(base.etcd_port, base.etcd_peer_port, base.redis_port, base.envoy_port,
                    base.envoy_admin_port, services)


@pytest.fixture(scope="session")
def live_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMesh]:
    run_dir: Path = tmp_path_factory.mktemp("client-mesh")
    mesh = Mesh(run_dir, client_topology(), ephemeral=True, log=lambda _line: None)
    try:
        endpoints = mesh.up(timeout=90)
        instances = {name.rsplit("-", 1)[0]: address for name, address in endpoints.instances.items()}
        yield LiveMesh(envoy=endpoints.envoy, instances=instances)
    finally:
        mesh.down(grace=5)
