"""Fixtures that start real infrastructure (etcd, Redis) and real services on
ephemeral loopback ports, and stop them afterwards."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sage_deploy import infra
from sage_deploy.processes import ManagedProcess, free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Infra:
    proc: ManagedProcess
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_etcd(run_dir: Path) -> Infra:
    port = free_port()
    proc = infra.etcd_process(run_dir, port, free_port()).start()
    infra.wait_port(proc, port)
    return Infra(proc, port)


def start_redis(run_dir: Path, port: int | None = None) -> Infra:
    port = port or free_port()
    proc = infra.redis_process(run_dir, port).start()
    infra.wait_port(proc, port)
    return Infra(proc, port)


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    server = start_etcd(tmp_path_factory.mktemp("etcd"))
    yield server
    server.proc.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.proc.stop()


@dataclass
class ServiceProcess:
    proc: ManagedProcess
    info: dict

    @property
    def address(self) -> str:
        return self.info["address"]

    @property
    def instance_id(self) -> str:
        return self.info["instance_id"]


def spawn_service(run_dir: Path, name: str, module: str, wait: bool = True, **settings: object) -> ServiceProcess:
    """Start ``python -m <module>`` with SAGE_<KEY> settings; wait until it is SERVING."""
    ready = run_dir / f"{name}.ready.json"
    env = {f"SAGE_{k.upper()}": ",".join(map(str, v)) if isinstance(v, list | tuple) else str(v)
           for k, v in settings.items()}
    env.setdefault("SAGE_DATA_DIR", str(run_dir / f"{name}.data"))
    env["SAGE_READY_FILE"] = str(ready)
    proc = ManagedProcess(name, [sys.executable, "-m", module], run_dir / f"{name}.log", env=env,
                          ready_file=ready).start()
    try:
        info = proc.wait_ready_file(60) if wait else {}
    except Exception:
        proc.stop(grace=1)
        raise
    return ServiceProcess(proc, info)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Start services for one test; every process is stopped at teardown."""
    started: list[ServiceProcess] = []
    counter = iter(range(1000))

    def start(module: str, wait: bool = True, **settings: object) -> ServiceProcess:
        service = spawn_service(tmp_path, f"{module}-{next(counter)}", module, wait, **settings)
        started.append(service)
        return service

    yield start
    for service in started:
        service.proc.stop(grace=5)
