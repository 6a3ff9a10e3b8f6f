"""DeleteJob (`sage job delete`): a finished job is forgotten with its folder; a running one is
refused, state unchanged, unless forced, which cancels it first."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage_client import JobClient, LocalEnvironment, NotFound
from sage_client.errors import FailedPrecondition, InvalidArgument
from tests.conftest import ServiceProcess
from tests.kernel import pipelines
from tests.kernel.conftest import wait_until


def test_a_finished_job_is_deleted_with_its_folder(jobs: JobClient, data_dir: Path) -> None:
    env = LocalEnvironment("squares")
    env.from_batch([1, 2, 3]).map(pipelines.square).sink(pipelines.announce)
    handle = jobs.submit(env.graph)
    handle.wait(timeout=60)
    assert (data_dir / "jobs" / handle.id).is_dir()
    assert jobs.delete(handle.id).state == "succeeded"
    assert handle.id not in [job.id for job in jobs.list()]
    assert not (data_dir / "jobs" / handle.id).exists()
    with pytest.raises(NotFound):
        jobs.get(handle.id)
    with pytest.raises(NotFound):
        jobs.delete(handle.id)


def test_a_running_job_is_refused_unless_forced(jobs: JobClient) -> None:
    env = LocalEnvironment("forever")
    env.from_source(pipelines.Forever).sink(pipelines.announce)
    handle = jobs.submit(env.graph)
    wait_until(lambda: handle.status().state == "running", what="running")
    with pytest.raises(FailedPrecondition, match="cancel it first, or delete it with force"):
        jobs.delete(handle.id)
    assert handle.status().state == "running"  # unchanged
    assert jobs.delete(handle.id, force=True).state == "cancelled"
    assert handle.id not in [job.id for job in jobs.list()]


def test_delete_without_an_id_is_invalid(jobs: JobClient) -> None:
    with pytest.raises(InvalidArgument):
        jobs.delete("")


def test_delete_needs_the_jobs_role(kernel: ServiceProcess) -> None:
    from sage_client import PermissionDenied
    from sage_client.credentials import principal_token

    with JobClient(address=kernel.address, token=principal_token("service")) as member:
        with pytest.raises(PermissionDenied):
            member.delete("job-000000000000")
