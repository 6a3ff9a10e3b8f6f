"""A TSDB service process shared by a test module, registered in the session's real etcd."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from sage_client.discovery import EtcdResolver
from sage_client.tsdb import TSDBClient
from tests.conftest import Infra, ServiceProcess, spawn_service

_metrics = itertools.count()


@pytest.fixture(scope="module")
def tsdb_service(tmp_path_factory: pytest.TempPathFactory, etcd: Infra) -> Iterator[ServiceProcess]:
    service = spawn_service(
        tmp_path_factory.mktemp("tsdb"),
        "tsdb",
        "sage_tsdb",
        etcd_endpoints=etcd.address,
        max_write_points=50_000,
        max_join_events=1000,
    )
    yield service
    service.proc.stop(grace=5)


@pytest.fixture
def tsdb(tsdb_service: ServiceProcess, etcd: Infra) -> Iterator[TSDBClient]:
    """A client that finds the service through etcd, as a mesh member does."""
    resolver = EtcdResolver([etcd.address])
    client = TSDBClient(resolver=resolver)
    yield client
    client.close()
    resolver.close()


@pytest.fixture
def metric() -> str:
    return f"m{next(_metrics)}"
