"""`sage job ls|status|logs|cancel` and `submit --detach` against a real job manager."""

from __future__ import annotations

from pathlib import Path

from sage_client import JobClient
from tests.conftest import ServiceProcess
from tests.kernel.conftest import wait_until
from tests.kernel.test_examples_remote import sage_job

FOREVER = """
import time
from sage_client import LocalEnvironment

def tick():
    time.sleep(0.02)
    return "tick"

env = LocalEnvironment("ticker")
env.from_source(tick).sink(print)
env.submit(autostop=True)
"""

FAILING = """
from sage_client import LocalEnvironment

def boom(x):
    raise KeyError(f"no such thing: {x}")

env = LocalEnvironment("boom")
env.from_batch([1]).map(boom).sink(print)
env.submit(autostop=True)
"""


def test_detached_submit_then_ls_status_logs_cancel(kernel: ServiceProcess, tmp_path: Path) -> None:
    program = tmp_path / "ticker.py"
    program.write_text(FOREVER)
    submitted = sage_job(kernel, "submit", "--detach", str(program))
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    with JobClient(address=kernel.address) as jobs:
        wait_until(
            lambda: len([e for e in jobs.events(job_id, follow=False) if e.log_line]) >= 2,
            what="log lines",
        )

    listing = sage_job(kernel, "ls").stdout.splitlines()
    assert listing[0].split() == ["ID", "NAME", "STATE", "EXECUTOR", "RESTARTS", "CREATED"]
    assert listing[1].split()[:4] == [job_id, "ticker", "running", "local"]
    assert "state:     running" in sage_job(kernel, "status", job_id).stdout
    assert sage_job(kernel, "logs", job_id).stdout.startswith("tick\ntick\n")
    assert "state:     cancelled" in sage_job(kernel, "cancel", job_id).stdout
    assert sage_job(kernel, "ls", "--state", "running").stdout.splitlines()[1:] == []


def test_submit_of_a_failing_program_exits_1_with_the_remote_traceback(
    kernel: ServiceProcess, tmp_path: Path
) -> None:
    program = tmp_path / "boom.py"
    program.write_text(FAILING)
    result = sage_job(kernel, "submit", str(program))
    assert result.returncode == 1
    assert "KeyError: 'no such thing: 1'" in result.stderr
    assert "Traceback" in result.stderr


def test_status_of_an_unknown_job_is_an_error(kernel: ServiceProcess) -> None:
    result = sage_job(kernel, "status", "job-missing")
    assert result.returncode == 1 and "no job with id 'job-missing'" in result.stderr
