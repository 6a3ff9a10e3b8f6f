"""The kernel examples, unchanged, through `sage job submit`: same stdout as under LocalEnvironment.

`sage job submit` runs the program with LocalEnvironment swapped for RemoteEnvironment
(sage_client.remote.script), so the examples' code is untouched."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sage_client import JobClient
from tests.conftest import ServiceProcess
from tests.dataflow.test_examples import EXAMPLES, EXPECTED


def sage_job(kernel: ServiceProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sage_cli.main", "job", "--address", kernel.address, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_remote(
    name: str, kernel: ServiceProcess, *options: str
) -> subprocess.CompletedProcess[str]:
    return sage_job(kernel, "submit", *options, str(EXAMPLES / name))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_the_same_under_remote_environment(
    name: str, kernel: ServiceProcess
) -> None:
    result = run_remote(name, kernel)
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED[name]
    with JobClient(address=kernel.address) as jobs:  # it really ran on the job manager
        assert [(j.name, j.state) for j in jobs.list()] == [(name.removesuffix(".py"), "succeeded")]
