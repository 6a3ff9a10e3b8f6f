"""Checkpoints: source positions + keyed state + collected records, restored after a crash."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from sage_client import JobClient, LocalEnvironment, RestartPolicy
from sage_client.dataflow.runtime import run_graph
from sage_client.errors import InvalidArgument
from tests.kernel import pipelines
from tests.kernel.conftest import wait_until

COUNT = 120


def _counting_graph(name: str = "counting", source=None):
    env = LocalEnvironment(name)
    stream = (
        env.from_batch(pipelines.SlowNumbers, COUNT, 0.02)
        if source is None
        else env.from_batch(source)
    )
    stream.keyby(lambda x: x % 3).map(pipelines.RunningCount, parallelism=2).sink(
        pipelines.announce
    )
    return env.graph


def _clean() -> list[tuple[int, int]]:
    per_key = Counter(x % 3 for x in range(COUNT))
    return sorted((k, c) for k, n in per_key.items() for c in range(1, n + 1))


def test_a_worker_killed_after_a_checkpoint_resumes_from_it_with_the_clean_output(
    jobs: JobClient,
) -> None:
    restart = RestartPolicy("fixed_delay", attempts=2, delay_s=0)
    handle = jobs.submit(
        _counting_graph(), restart=restart, checkpoint_interval_s=0.1, collect_result=True
    )
    wait_until(lambda: handle.status().checkpoint_count >= 3, what="three checkpoints")
    os.kill(handle.pause().worker_pid, signal.SIGKILL)  # paused first: it cannot finish before
    info = handle.wait(timeout=60)
    assert info.restart_count == 1
    logs = list(handle.logs(follow=False))
    assert any(line.startswith("[sage] resuming from checkpoint epoch") for line in logs)
    # exact, not only at-least-once: the snapshot holds the records collected up to it
    assert sorted(handle.result()) == _clean()


@pytest.mark.parametrize("source", [pipelines.SlowNumbers, pipelines.ReplayedSlowNumbers])
def test_a_restored_job_continues_after_the_snapshot_with_its_state(source: type) -> None:
    outputs: list[tuple[int, int]] = []
    env = LocalEnvironment("in-process")
    (
        env.from_batch(source, COUNT, 0.005)
        .keyby(lambda x: x % 3)
        .map(pipelines.RunningCount, parallelism=2)
        .sink(outputs.append)
    )
    first = run_graph(env.graph, checkpointing=True)
    time.sleep(0.2)
    snapshot = first.checkpoint(timeout=10)
    first.cancel()
    first.wait()
    assert snapshot is not None
    position = snapshot["sources"]["0:0"]
    assert 0 < position < COUNT

    outputs.clear()
    resumed = run_graph(env.graph, restore=snapshot)
    resumed.wait()
    # record x is the (x // 3 + 1)-th of its key: counts continue where the snapshot left them
    assert sorted(outputs) == sorted((x % 3, x // 3 + 1) for x in range(position, COUNT))


def test_checkpoints_are_refused_on_ray(jobs: JobClient) -> None:
    with pytest.raises(InvalidArgument, match="checkpoints run on the local executor"):
        jobs.submit(_counting_graph(), executor="ray", checkpoint_interval_s=1)
