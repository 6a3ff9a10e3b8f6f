"""A real job manager (``python -m sage_kernel``) per test, and cleanup of its workers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cloudpickle
import pytest

from sage_client import JobClient
from tests.conftest import ServiceProcess
from tests.kernel import pipelines

cloudpickle.register_pickle_by_value(pipelines)


def kill_workers(data_dir: Path) -> None:
    """Workers outlive their manager on purpose (re-attach); a test must not leave any behind."""
    for record in data_dir.glob("jobs/*/job.json"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(json.loads(record.read_text()).get("worker_pid") or 0)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if pid else b""
            if b"sage_kernel.worker" in cmdline:
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "kernel-data"
    yield folder
    kill_workers(folder)


@pytest.fixture
def start_kernel(
    start_service: Callable[..., ServiceProcess], data_dir: Path
) -> Callable[..., ServiceProcess]:
    def start(**settings: object) -> ServiceProcess:
        settings.setdefault("data_dir", data_dir)
        settings.setdefault("cancel_grace_s", 2)
        return start_service("sage_kernel", **settings)

    return start


@pytest.fixture
def kernel(start_kernel: Callable[..., ServiceProcess]) -> ServiceProcess:
    return start_kernel()


@pytest.fixture
def jobs(kernel: ServiceProcess) -> Iterator[JobClient]:
    client = JobClient(address=kernel.address)
    yield client
    client.close()


def wait_until(
    predicate: Callable[[], object], timeout: float = 30, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
