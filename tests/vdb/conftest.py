"""A VDB service process shared by a test module, and a fresh collection name per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from sage_client.vdb import VDBClient
from tests.conftest import ServiceProcess, spawn_service

_names = itertools.count()
MAX_BATCH_POINTS = 5000


@pytest.fixture(scope="module")
def vdb_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = spawn_service(
        tmp_path_factory.mktemp("vdb"), "vdb", "sage_vdb", max_batch_points=MAX_BATCH_POINTS
    )
    yield service
    service.proc.stop(grace=5)


@pytest.fixture
def vdb(vdb_service: ServiceProcess) -> Iterator[VDBClient]:
    client = VDBClient(address=vdb_service.address)
    yield client
    client.close()


@pytest.fixture
def name() -> str:
    return f"c{next(_names)}"


def random_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
