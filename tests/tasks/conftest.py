"""A real Redis with the mesh's ACL users (the test session's secrets) and real Celery workers
(``python -m sage_tasks``), started per test and stopped after."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sage_client.tasks import TaskClient
from sage_deploy import infra, secrets
from sage_deploy.processes import ManagedProcess, free_port
from tests.conftest import Infra


def mesh_secrets() -> dict:
    return secrets.load(os.environ["SAGE_SECRETS_FILE"])


def token_of(principal: str) -> str:
    return mesh_secrets()["principals"][principal]["token"]


@pytest.fixture(scope="session")
def task_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """Redis as `sage mesh up` runs it: only the secrets file's ACL users get in."""
    port = free_port()
    run_dir = tmp_path_factory.mktemp("task-redis")
    proc = infra.redis_process(run_dir, port, secrets=mesh_secrets()).start()
    infra.wait_port(proc, port)
    yield Infra(proc, port)
    proc.stop()


@pytest.fixture(scope="session")
def redis_url(task_redis: Infra) -> str:
    """Without a password: workers and clients add the `tasks` user's from the secrets."""
    return f"redis://127.0.0.1:{task_redis.port}/0"


def _spawn(run_dir: Path, name: str, redis_url: str, **settings: object) -> ManagedProcess:
    ready = run_dir / f"{name}.ready"
    env = {
        "SAGE_REDIS_URL": redis_url,
        "SAGE_PRINCIPAL": "service",
        "SAGE_READY_FILE": str(ready),
        "SAGE_INSTANCE_ID": name,
        "SAGE_ALLOWED_MODULES": "tests.tasks.allowed_functions",
        "SAGE_INGEST_ROOTS": str(run_dir),
        "SAGE_LOG_LEVEL": "INFO",
        **{f"SAGE_{k.upper()}": str(v) for k, v in settings.items()},
    }
    # the worker imports tests.tasks.allowed_functions from its working directory (the root)
    return ManagedProcess(
        name,
        [sys.executable, "-m", "sage_tasks"],
        run_dir / f"{name}.log",
        env=env,
        ready_file=ready,
    ).start()


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[ManagedProcess]:
    """One worker (prefork, 2 processes) for a module's tests; stopped before the next module
    (whose tests may need only their own workers)."""
    proc = _spawn(tmp_path_factory.mktemp("task-worker"), "shared-worker", redis_url)
    proc.wait_ready_file(90)
    yield proc
    proc.stop(grace=1)


@pytest.fixture
def start_worker(tmp_path: Path, redis_url: str) -> Iterator[Callable[..., ManagedProcess]]:
    """Workers of one test, with its own settings; stopped at teardown."""
    started: list[ManagedProcess] = []

    def start(wait: bool = True, **settings: object) -> ManagedProcess:
        proc = _spawn(tmp_path, f"worker-{len(started)}", redis_url, **settings)
        started.append(proc)
        if wait:
            proc.wait_ready_file(90)
        return proc

    yield start
    for proc in started:
        proc.stop(grace=1)


@pytest.fixture
def tasks(redis_url: str) -> Iterator[TaskClient]:
    with TaskClient(redis_url) as client:
        yield client
