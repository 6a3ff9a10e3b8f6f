"""The kernel examples, unchanged, under RemoteEnvironment: same stdout as LocalEnvironment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sage_client import JobClient
from tests.conftest import ServiceProcess
from tests.kernel.test_examples import EXAMPLES, EXPECTED

# Runs the example as __main__ with LocalEnvironment swapped for RemoteEnvironment: the
# example's own code is untouched. Extra RemoteEnvironment settings come from the environment.
RUNNER = """
import functools, os, runpy, sys
import sage_client
from sage_client.remote import RemoteEnvironment
sage_client.LocalEnvironment = functools.partial(
    RemoteEnvironment, executor=os.environ.get("JOBS_EXECUTOR", "local"),
    ray_address=os.environ.get("JOBS_RAY_ADDRESS", ""))
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def run_remote(name: str, kernel: ServiceProcess, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SAGE_KERNEL_ADDR": kernel.address, **env},
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_the_same_under_remote_environment(name: str, kernel: ServiceProcess) -> None:
    result = run_remote(name, kernel)
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED[name]
    with JobClient(address=kernel.address) as jobs:  # it really ran on the job manager
        assert [(j.name, j.state) for j in jobs.list()] == [(name.removesuffix(".py"), "succeeded")]
