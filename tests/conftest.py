"""Fixtures that start real infrastructure (etcd, Redis) and real services on
ephemeral loopback ports, and stop them afterwards."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sage_deploy import infra, secrets
from sage_deploy.processes import ManagedProcess, free_port
from sage_deploy.secrets import ensure_mesh_secrets
from tests import background as background_steps
from tests.ray_head import ray_address  # noqa: F401  (the one Ray head of a session)

ROOT = Path(__file__).resolve().parent.parent
_SECRETS_DIR: str | None = None
# The principal each service runs as, as `sage mesh up` assigns them.
SERVICE_PRINCIPALS = {"sage_gateway": "gateway", "sage_memory": "memory"}


def pytest_configure(config: pytest.Config) -> None:
    """One set of mesh secrets for the whole run, as `sage mesh up` writes them: every service a
    test starts verifies callers against it, and the SDK in this process presents the admin token."""
    global _SECRETS_DIR
    background_steps.configure(config)
    _SECRETS_DIR = tempfile.mkdtemp(prefix="sage-test-secrets-")
    path = ensure_mesh_secrets(_SECRETS_DIR)
    data = secrets.load(path)  # a plain user too, whom no internal RPC may serve
    data["principals"]["tester"] = {"token": secrets.new_token(), "roles": ["user"]}
    secrets.write_secrets(path, data)
    os.environ["SAGE_SECRETS_FILE"] = str(path)
    os.environ.pop("SAGE_TOKEN", None)
    os.environ["SAGE_PRINCIPAL"] = "admin"
    # the in-process embedder keeps the vectors it computed for this run (the examples and
    # pipelines re-embed the same docs/ chunks): the first test to embed a text runs the model
    cache = Path(_SECRETS_DIR + "-embeddings")
    cache.mkdir(mode=0o1777)
    cache.chmod(0o1777)  # job workers run as another user; they read it
    os.environ["SAGE_EMBEDDING_CACHE"] = str(cache)


@pytest.hookimpl(trylast=True)  # after every other plugin has filtered and ordered the items
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    background_steps.start_for(config, items)  # tests/background.py: mypy, C++ builds, wheel


@pytest.fixture(scope="session")
def background() -> background_steps.Background:
    return background_steps.SESSION


def pytest_unconfigure(config: pytest.Config) -> None:
    background_steps.SESSION.close()
    if _SECRETS_DIR:
        shutil.rmtree(_SECRETS_DIR, ignore_errors=True)
        shutil.rmtree(_SECRETS_DIR + "-embeddings", ignore_errors=True)


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


def spawn_service(
    run_dir: Path,
    name: str,
    module: str,
    wait: bool = True,
    *,
    python: str | None = None,
    ready_timeout_s: float = 60,
    **settings: object,
) -> ServiceProcess:
    """Start ``python -m <module>`` with SAGE_<KEY> settings; wait until it is SERVING.
    ``python``: another interpreter (a virtual environment's), default this one."""
    ready = run_dir / f"{name}.ready.json"
    env = {
        f"SAGE_{k.upper()}": ",".join(map(str, v)) if isinstance(v, list | tuple) else str(v)
        for k, v in settings.items()
    }
    env.setdefault("SAGE_DATA_DIR", str(run_dir / f"{name}.data"))
    env.setdefault("SAGE_PRINCIPAL", SERVICE_PRINCIPALS.get(module, "service"))
    env["SAGE_READY_FILE"] = str(ready)
    proc = ManagedProcess(
        name,
        [python or sys.executable, "-m", module],
        run_dir / f"{name}.log",
        env=env,
        ready_file=ready,
    ).start()
    try:
        info = proc.wait_ready_file(ready_timeout_s) if wait else {}
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
