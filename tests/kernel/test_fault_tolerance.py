"""A worker killed mid-job, a job manager restarted: the final output equals a clean run's."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from sage_client import JobClient, LocalEnvironment, RestartPolicy
from sage_client.remote import JobFailed
from sage_kernel.restart import next_delay
from tests.conftest import ServiceProcess
from tests.kernel import pipelines
from tests.kernel.conftest import wait_until

COUNT = 80


def _slow_graph(name: str = "slow"):
    # small batches: records reach the sink steadily, so "mid-job" is easy to hit
    env = LocalEnvironment(name, config={"runtime": {"batch_size": 8}})
    (
        env.from_batch(pipelines.SlowNumbers, COUNT, 0.02)
        .map(pipelines.square)
        .keyby(lambda x: x % 3)
        .map(pipelines.square, parallelism=2)
        .sink(pipelines.announce)
    )
    return env.graph


CLEAN = sorted((x * x) ** 2 for x in range(COUNT))


def _kill_worker_when_it_has_logged(jobs: JobClient, job_id: str, lines: int) -> int:
    wait_until(
        lambda: (
            jobs.get(job_id).state == "running"
            and len([e for e in jobs.events(job_id, follow=False) if e.log_line]) >= lines
        ),
        what=f"{lines} records",
    )
    pid = jobs.pause(job_id).worker_pid  # held still: it cannot finish before the kill lands
    assert pid > 0
    os.kill(pid, signal.SIGKILL)
    return pid


def test_a_killed_worker_is_restarted_and_the_output_matches_a_clean_run(jobs: JobClient) -> None:
    clean = jobs.submit(_slow_graph("clean"), collect_result=True)
    restart = RestartPolicy("fixed_delay", attempts=2, delay_s=0.1)
    handle = jobs.submit(_slow_graph(), restart=restart, collect_result=True)
    first_pid = _kill_worker_when_it_has_logged(jobs, handle.id, 10)
    info = handle.wait(timeout=60)
    assert info.restart_count == 1
    clean.wait(timeout=60)
    assert sorted(clean.result()) == CLEAN
    assert sorted(handle.result()) == CLEAN
    assert jobs.get(handle.id).worker_pid != first_pid


def test_without_a_restart_strategy_a_killed_worker_fails_the_job(jobs: JobClient) -> None:
    handle = jobs.submit(_slow_graph())
    _kill_worker_when_it_has_logged(jobs, handle.id, 3)
    with pytest.raises(JobFailed, match="killed by signal SIGKILL"):
        handle.wait(timeout=30)
    assert handle.status().restart_count == 0


def test_restarts_stop_after_the_allowed_attempts(jobs: JobClient) -> None:
    env = LocalEnvironment("always-fails")
    env.from_batch([3]).map(pipelines.explode).sink(pipelines.announce)
    restart = RestartPolicy("exponential_backoff", attempts=2, delay_s=0.05, max_delay_s=0.1)
    handle = jobs.submit(env.graph, restart=restart)
    with pytest.raises(JobFailed, match="cursed"):
        handle.wait(timeout=60)
    assert handle.status().restart_count == 2


def test_backoff_delays_grow_and_are_capped() -> None:
    strategy = RestartPolicy(
        "exponential_backoff", attempts=4, delay_s=0.1, max_delay_s=0.3, multiplier=2
    ).to_proto()
    delays = [next_delay(strategy, n) for n in range(5)]
    assert delays == [0.1, 0.2, 0.3, 0.3, None]
    assert next_delay(RestartPolicy("none").to_proto(), 0) is None


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
def test_a_restarted_manager_lists_earlier_jobs_and_reattaches_to_running_ones(
    start_kernel: Callable[..., ServiceProcess], stop: signal.Signals
) -> None:
    first = start_kernel()
    with JobClient(address=first.address) as jobs:
        done = jobs.submit(_slow_graph("quick-one"), collect_result=True)
        done.wait(timeout=60)
        running = jobs.submit(_slow_graph("long-one"), collect_result=True)
        wait_until(lambda: jobs.get(running.id).state == "running", what="running")
        # paused, so it is still there whatever the time the restart takes
        pid = jobs.pause(running.id).worker_pid
    first.proc.proc.send_signal(stop)  # dies, or shuts down: either way the worker stays
    first.proc.proc.wait()

    second = start_kernel()
    with JobClient(address=second.address) as jobs:
        listed = {j.id: j for j in jobs.list()}
        assert listed[done.id].state == "succeeded"
        assert (listed[running.id].state, listed[running.id].worker_pid) == ("paused", pid)
        jobs.resume(running.id)  # the new manager drives the worker the old one started
        wait_until(lambda: jobs.get(running.id).done, what="re-attached job to finish")
        info = jobs.get(running.id)
        assert info.state == "succeeded" and info.restart_count == 0
        assert sorted(jobs.result(running.id)) == CLEAN


def test_a_worker_that_died_while_no_manager_watched_is_restarted(
    start_kernel: Callable[..., ServiceProcess],
) -> None:
    first = start_kernel()
    with JobClient(address=first.address) as jobs:
        restart = RestartPolicy("fixed_delay", attempts=1, delay_s=0)
        handle = jobs.submit(_slow_graph("orphan"), restart=restart, collect_result=True)
        wait_until(lambda: jobs.get(handle.id).state == "running", what="running")
        pid = jobs.pause(handle.id).worker_pid  # cannot finish before it is killed below
    first.proc.proc.send_signal(signal.SIGKILL)
    first.proc.proc.wait()
    os.killpg(pid, signal.SIGKILL)

    second = start_kernel()
    with JobClient(address=second.address) as jobs:
        wait_until(lambda: jobs.get(handle.id).done, what="restarted job to finish")
        info = jobs.get(handle.id)
        assert info.state == "succeeded" and info.restart_count == 1
        assert sorted(jobs.result(handle.id)) == CLEAN
