"""A task whose worker dies under it is run again, per its policy, and never lost silently:
real worker processes killed with SIGKILL (the whole worker) or dying children."""

from __future__ import annotations

import os
import signal
import time

import pytest

from sage_client.tasks import TaskClient, TaskFailed
from tests.tasks.conftest import token_of


def progress_of(tasks: TaskClient, task_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = tasks.status(task_id)
        if status.progress:
            return status.progress
        assert time.monotonic() < deadline, f"task never reported progress ({status.state})"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_task_whose_worker_is_killed_completes_on_another(start_worker, tasks) -> None:
    first = start_worker(visibility_timeout_s=2, concurrency=1)
    job = tasks.submit("sage.echo", "survived", steps=40, step_s=0.1)
    assert progress_of(tasks, job.id)["worker"].startswith("worker-0@")
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool processes, mid-task
    first.proc.wait()
    start_worker(visibility_timeout_s=2, concurrency=1)
    assert job.result(timeout=90) == "survived"
    assert job.status().state == "SUCCESS"


def test_a_task_that_keeps_crashing_its_worker_fails_after_its_reruns(
    start_worker, redis_url: str
) -> None:
    start_worker(crash_retries=1)
    with TaskClient(redis_url, token=token_of("jobs")) as jobs:
        job = jobs.submit("sage.run_function", "tests.tasks.allowed_functions:crash_worker")
        with pytest.raises(TaskFailed, match="worker died 2 times") as failed:
            job.result(timeout=90)
        assert failed.value.error_type == "WorkerLost"
