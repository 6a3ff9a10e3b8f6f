"""The Ray executor: the same programs, each operator-chain instance a Ray actor.

One local Ray per test session (``ray.init(num_cpus=2)`` in a process run as the job workers'
user); job workers connect to it."""

from __future__ import annotations

import pytest

from sage_client import JobClient, LocalEnvironment
from sage_client.errors import InvalidArgument
from sage_client.remote import JobFailed
from tests.conftest import ServiceProcess
from tests.dataflow.test_examples import EXPECTED
from tests.kernel import pipelines
from tests.kernel.conftest import wait_until
from tests.kernel.test_examples_remote import run_remote

ray = pytest.importorskip("ray", reason="the ray executor needs `pip install -e .[ray]`")


# hello_world always; the other two examples add ~20 s each on a 2-core box: slow
@pytest.mark.parametrize(
    "name",
    [
        n if n == "hello_world.py" else pytest.param(n, marks=pytest.mark.slow)
        for n in sorted(EXPECTED)
    ],
)
def test_example_prints_the_same_on_ray(
    name: str, kernel: ServiceProcess, ray_address: str
) -> None:
    result = run_remote(name, kernel, "--executor", "ray", "--ray-address", ray_address)
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED[name]
    with JobClient(address=kernel.address) as jobs:
        assert [(j.executor, j.state) for j in jobs.list()] == [("ray", "succeeded")]


@pytest.mark.slow
def test_keyed_parallel_job_on_ray_collects_every_record(jobs: JobClient, ray_address: str) -> None:
    env = LocalEnvironment("ray-keyed")
    (
        env.from_batch(list(range(5000)), parallelism=2)
        .map(pipelines.square)
        .keyby(lambda x: x % 7)
        .map(pipelines.square, parallelism=2)
        .sink(lambda x: None)
    )
    handle = jobs.submit(env.graph, executor="ray", ray_address=ray_address, collect_result=True)
    handle.wait(timeout=120)
    assert sorted(handle.result()) == sorted((x * x) ** 2 for x in range(5000))


def test_a_failing_function_on_ray_fails_with_its_traceback(
    jobs: JobClient, ray_address: str
) -> None:
    env = LocalEnvironment("ray-cursed")
    env.from_batch([1, 2, 3]).map(pipelines.explode).sink(pipelines.announce)
    handle = jobs.submit(env.graph, executor="ray", ray_address=ray_address)
    with pytest.raises(JobFailed, match="record 3 is cursed"):
        handle.wait(timeout=120)


def test_an_unbounded_ray_job_streams_its_output_and_can_be_cancelled(
    jobs: JobClient, ray_address: str
) -> None:
    env = LocalEnvironment("ray-forever")
    env.from_source(pipelines.Forever).sink(pipelines.announce)
    handle = jobs.submit(env.graph, executor="ray", ray_address=ray_address)
    # what a never-ending source chain prints streams back while it runs
    wait_until(
        lambda: len([e for e in jobs.events(handle.id, follow=False) if e.log_line]) >= 3,
        timeout=60,
        what="log lines of a running Ray job",
    )
    assert handle.cancel().state == "cancelled"


def test_feedback_loops_are_refused_on_ray(jobs: JobClient, ray_address: str) -> None:
    env = LocalEnvironment("ray-loop")
    future = env.from_future("loop")
    env.from_batch([1]).connect(future).map(lambda x: x).fill_future(future)
    with pytest.raises(InvalidArgument, match="feedback loops"):
        jobs.submit(env.graph, executor="ray", ray_address=ray_address)


@pytest.mark.parametrize(
    "address", ["http://127.0.0.1:6379", "127.0.0.1", "ray://", "a b:1", "x" * 300 + ":1"]
)
def test_a_ray_address_that_is_not_one_is_refused_by_name(jobs: JobClient, address: str) -> None:
    env = LocalEnvironment("ray-bad-address")
    env.from_batch([1]).map(lambda x: x)
    before = len(list(jobs.list()))
    with pytest.raises(InvalidArgument, match="ray_address is a cluster's GCS address"):
        jobs.submit(env.graph, executor="ray", ray_address=address)
    assert len(list(jobs.list())) == before  # nothing was created
