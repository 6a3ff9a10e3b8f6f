"""A live mesh for the client tests: etcd, Redis, every service whose server is on this
branch (KV, VDB, LLM with its mock engine, Memory, the kernel's job manager, TSDB), and Envoy in front, on ephemeral ports.

Clients in other languages reach the services through Envoy, as they would in a deployment;
reflection is checked on each instance and through Envoy (every server reflects the whole mesh)."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sage_deploy.launcher import Mesh
from sage_deploy.processes import StartError
from sage_deploy.topology import ServiceDef, Topology, load_topology


@dataclass(frozen=True)
class ClientService:
    """A service the clients are tested against: its server module and its gRPC name."""

    name: str
    module: str
    grpc_service: str
    env: tuple[tuple[str, str], ...] = ()
    needs: tuple[str, ...] = ()  # services it calls, without which it never becomes SERVING


SERVICES = (
    ClientService("kv", "sage_kv", "sage.kv.v1.KVService", (("SAGE_BACKEND", "memory"),)),
    ClientService("vdb", "sage_vdb", "sage.vdb.v1.VDBService"),
    ClientService(
        "llm",
        "sage_llm",
        "sage.llm.v1.LLMService",
        (("SAGE_BACKEND", "mock"), ("SAGE_EMBEDDINGS", "false")),
    ),
    ClientService(
        "memory", "sage_memory", "sage.memory.v1.MemoryService", needs=("kv", "vdb", "llm")
    ),
    ClientService("kernel", "sage_kernel", "sage.kernel.v1.JobService"),
    ClientService("tsdb", "sage_tsdb", "sage.tsdb.v1.TSDBService"),
)


def on_branch(service: ClientService) -> bool:
    return importlib.util.find_spec(service.module) is not None


@dataclass(frozen=True)
class LiveMesh:
    envoy: str
    instances: dict[str, str]  # service name -> address of its one instance
    unavailable: dict[str, str]  # service name -> why it is not running here

    def require(self, service: str) -> None:
        """Skip the calling test when ``service``'s server is not on this branch or cannot run here."""
        if service not in self.instances:
            pytest.skip(self.unavailable.get(service, f"the {service} service is not running"))


def client_topology(services: list[ClientService]) -> Topology:
    base = load_topology()
    defs = tuple(
        ServiceDef(
            name=s.name,
            module=s.module,
            grpc_service=s.grpc_service,
            port=0,
            metrics_port=0,
            env=dict(s.env),
        )
        for s in services
    )
    return Topology(
        base.etcd_port,
        base.etcd_peer_port,
        base.redis_port,
        base.envoy_port,
        base.envoy_admin_port,
        defs,
    )


# A server that dies on a missing optional dependency (e.g. the LLM service without the `llm`
# extra) is left out and its tests skip with the import error; any other failure to start fails.
_MISSING_DEPENDENCY = re.compile(r"(ModuleNotFoundError|ImportError): .*")


@pytest.fixture(scope="session")
def live_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMesh]:
    unavailable = {
        s.name: f"the {s.name} service ({s.module}) is not on this branch yet"
        for s in SERVICES
        if not on_branch(s)
    }
    for s in SERVICES:
        missing_needs = [n for n in s.needs if n in unavailable]
        if s.name not in unavailable and missing_needs:
            unavailable[s.name] = (
                f"the {s.name} service needs {', '.join(missing_needs)}, not on this branch yet"
            )
    while True:
        wanted = [s for s in SERVICES if s.name not in unavailable]
        mesh = Mesh(
            tmp_path_factory.mktemp("client-mesh"),
            client_topology(wanted),
            ephemeral=True,
            log=lambda _line: None,
            secrets_file=os.environ["SAGE_SECRETS_FILE"],
        )  # the session's
        try:
            endpoints = mesh.up(timeout=90)
            break
        except StartError as error:
            mesh.down(grace=2)
            failed = str(error).split()[0].rsplit("-", 1)[0]
            missing = _MISSING_DEPENDENCY.search(str(error))
            if failed == "kv" or failed not in {s.name for s in wanted} or missing is None:
                raise
            unavailable[failed] = f"the {failed} service cannot start here: {missing.group(0)}"
            for s in wanted:
                if failed in s.needs:
                    unavailable[s.name] = (
                        f"the {s.name} service needs {failed}: {unavailable[failed]}"
                    )
    try:
        instances = {
            name.rsplit("-", 1)[0]: address for name, address in endpoints.instances.items()
        }
        yield LiveMesh(envoy=endpoints.envoy, instances=instances, unavailable=unavailable)
    finally:
        mesh.down(grace=5)
