"""The memory service with real dependencies: KV (memory backend), VDB, the LLM service (mock
generation engine, real all-MiniLM-L6-v2 embeddings) — each its own process.

VDB is ``sage_vdb`` when installed, else the stand-in over ``sage_native`` in this folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from sage_client.memory import MemoryClient
from tests.conftest import ServiceProcess, spawn_service

VDB_MODULE = "sage_vdb"
DIM = 384


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(scope="session")
def llm_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = spawn_service(tmp_path_factory.mktemp("llm"), "llm", "sage_llm", backend="mock")
    yield service
    service.proc.stop(grace=5)


@pytest.fixture(scope="module")
def kv_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = spawn_service(tmp_path_factory.mktemp("kv"), "kv", "sage_kv", backend="memory")
    yield service
    service.proc.stop(grace=5)


@pytest.fixture(scope="module")
def vdb_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = spawn_service(tmp_path_factory.mktemp("vdb"), "vdb", VDB_MODULE)
    yield service
    service.proc.stop(grace=5)


MemoryStarter = Callable[..., ServiceProcess]


@pytest.fixture
def start_memory(
    tmp_path: Path, llm_service: ServiceProcess, kv_service: ServiceProcess
) -> Iterator[MemoryStarter]:
    """Start a memory service wired to static dependency addresses (the test's own VDB when given)."""
    started: list[ServiceProcess] = []

    def start(vdb_address: str, wait: bool = True, **settings: object) -> ServiceProcess:
        service = spawn_service(
            tmp_path,
            f"memory-{len(started)}",
            "sage_memory",
            wait,
            kv_address=kv_service.address,
            vdb_address=vdb_address,
            llm_address=llm_service.address,
            **settings,
        )
        started.append(service)
        return service

    yield start
    for service in started:
        service.proc.stop(grace=5)


@pytest.fixture(scope="module")
def memory_service(
    tmp_path_factory: pytest.TempPathFactory,
    llm_service: ServiceProcess,
    kv_service: ServiceProcess,
    vdb_service: ServiceProcess,
) -> Iterator[ServiceProcess]:
    service = spawn_service(
        tmp_path_factory.mktemp("memory"),
        "memory",
        "sage_memory",
        kv_address=kv_service.address,
        vdb_address=vdb_service.address,
        llm_address=llm_service.address,
    )
    yield service
    service.proc.stop(grace=5)


@pytest.fixture
def memory(memory_service: ServiceProcess) -> Iterator[MemoryClient]:
    with MemoryClient(address=memory_service.address) as client:
        yield client
