"""A real mesh for the gateway tests, brought up by the launcher (`sage mesh up`'s code) on
ephemeral ports: etcd, Redis, KV on Redis, two mock LLM instances, the gateway, Envoy."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sage_client import KVClient
from sage_client.api_keys import NAMESPACE, KeyStore
from sage_deploy.launcher import Endpoints, Mesh
from sage_deploy.topology import ServiceDef, Topology

JWT_SECRET = "test-hs256-secret-of-enough-length-0123456789"
JWT_AUDIENCE = "sage-tests"


def gateway_topology(
    llm_replicas: int = 2,
    tokens_per_s: int = 0,
    gateway_env: dict[str, str] | None = None,
    llm_env: dict[str, str] | None = None,
    gateway_replicas: int = 1,
) -> Topology:
    return Topology(
        etcd_port=0,
        etcd_peer_port=0,
        redis_port=0,
        envoy_port=0,
        envoy_admin_port=0,
        services=(
            ServiceDef(
                "kv", "sage_kv", "sage.kv.v1.KVService", 0, 0, env={"SAGE_BACKEND": "redis"}
            ),
            ServiceDef(
                "llm",
                "sage_llm",
                "sage.llm.v1.LLMService",
                0,
                0,
                replicas=llm_replicas,
                env={
                    "SAGE_BACKEND": "mock",
                    "SAGE_EMBEDDINGS": "false",
                    "SAGE_MOCK_TOKENS_PER_S": str(tokens_per_s),
                    "SAGE_REGISTRATION_TTL_S": "2",
                    **(llm_env or {}),
                },
            ),
            ServiceDef(
                "gateway",
                "sage_gateway",
                "",
                0,
                0,
                http=True,
                replicas=gateway_replicas,
                env={
                    "SAGE_KEY_CACHE_S": "0",
                    "SAGE_JWT_HS256_SECRET": JWT_SECRET,
                    "SAGE_JWT_AUDIENCE": JWT_AUDIENCE,
                    "SAGE_PIPELINE_WORKERS": "8",
                    "SAGE_MEMORY_ENABLED": "false",  # this mesh has no Memory service
                    **(gateway_env or {}),
                },
            ),
        ),
    )


@dataclass
class LiveMesh:
    mesh: Mesh
    endpoints: Endpoints
    run_dir: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.endpoints.envoy}/v1"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.endpoints.instances['gateway-0']}"

    def keys(self) -> KeyStore:
        return KeyStore(KVClient(NAMESPACE, address=self.endpoints.instances["kv-0"]))

    def pid(self, name: str) -> int:
        return int((self.run_dir / "pids" / f"{name}.pid").read_text())


def memory_topology(**gateway_env: str) -> Topology:
    """KV on Redis, a mock LLM, VDB, Memory and one gateway with ``gateway_env``: a mesh whose
    chats are remembered."""
    return Topology(
        etcd_port=0,
        etcd_peer_port=0,
        redis_port=0,
        envoy_port=0,
        envoy_admin_port=0,
        services=(
            ServiceDef(
                "kv", "sage_kv", "sage.kv.v1.KVService", 0, 0, env={"SAGE_BACKEND": "redis"}
            ),
            ServiceDef(
                "llm", "sage_llm", "sage.llm.v1.LLMService", 0, 0, env={"SAGE_BACKEND": "mock"}
            ),
            ServiceDef("vdb", "sage_vdb", "sage.vdb.v1.VDBService", 0, 0),
            ServiceDef("memory", "sage_memory", "sage.memory.v1.MemoryService", 0, 0),
            ServiceDef(
                "gateway",
                "sage_gateway",
                "",
                0,
                0,
                http=True,
                env={
                    "SAGE_SESSION_HISTORY_TURNS": "0",
                    "SAGE_PIPELINE_WORKERS": "4",
                    **gateway_env,
                },
            ),
        ),
    )


def bring_up(run_dir: Path, topology: Topology) -> Iterator[LiveMesh]:
    # the test session's secrets (tests/conftest.py), which this process's SDK presents
    mesh = Mesh(
        run_dir,
        topology,
        ephemeral=True,
        log=lambda *a: None,
        secrets_file=os.environ["SAGE_SECRETS_FILE"],
    )
    try:
        endpoints = mesh.up(timeout=60)
        yield LiveMesh(mesh, endpoints, run_dir)
    finally:
        mesh.down(grace=3)


@pytest.fixture(scope="session")
def memory_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMesh]:
    """The mesh of memory_topology, anonymous callers allowed, `rag-docs` offered for RAG
    (test_memory.py, test_rag.py)."""
    topology = memory_topology(SAGE_REQUIRE_AUTH="false", SAGE_RAG_COLLECTIONS="rag-docs")
    yield from bring_up(tmp_path_factory.mktemp("memory-mesh"), topology)


@pytest.fixture(scope="session")
def live_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMesh]:
    # Two gateway instances behind Envoy: sessions and rate limits must not care which one serves.
    yield from bring_up(
        tmp_path_factory.mktemp("gateway-mesh"), gateway_topology(gateway_replicas=2)
    )


@pytest.fixture(scope="session")
def make_key(live_mesh: LiveMesh) -> Callable[..., str]:
    store = live_mesh.keys()

    def make(user: str = "alice", **kwargs: object) -> str:
        return store.create("", user, **kwargs)[0]  # type: ignore[arg-type]

    return make
