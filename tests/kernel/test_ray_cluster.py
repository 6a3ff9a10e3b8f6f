"""The Ray executor on a Ray cluster: a head and two worker nodes started with ``ray start`` on
this host (``LocalRayCluster``, token auth on). Operators go where the program's scheduler
says (a node id, or a node's custom resource), and a worker node killed mid-job costs no
record: the job re-creates its lost actors on the node left and finishes."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest

from sage_client import BatchFunction, JobClient, RemoteEnvironment
from sage_client.dataflow.scheduler import BaseScheduler, PlacementDecision
from tests.conftest import ServiceProcess
from tests.kernel.conftest import wait_until

ray = pytest.importorskip("ray", reason="the ray executor needs `pip install -e .[ray]`")

from sage_kernel.ray_cluster import LocalRayCluster  # noqa: E402  (needs ray)

pytestmark = pytest.mark.slow  # a 3-node cluster takes ~20 s to start on 2 cores

cloudpickle.register_pickle_by_value(sys.modules[__name__])

COUNT = 300


def node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


class TaggedNumbers(BatchFunction):
    """(i, id of the node producing it) for i in 0..count-1, one every ``delay`` seconds."""

    def __init__(self, count: int, delay: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count, self.delay, self.next = count, delay, 0

    def execute(self) -> Any:
        if self.next >= self.count:
            return None
        time.sleep(self.delay)
        self.next += 1
        return (self.next - 1, node_id())


def tag_map_node(record: tuple[int, str]) -> tuple[int, str, str]:
    if record[0] % 50 == 0:
        print(f"mapped {record[0]}", flush=True)
    return (*record, node_id())


class ByOperator(BaseScheduler):
    """One decision per operator, by the operator's basename."""

    def __init__(self, decisions: dict[str, PlacementDecision]) -> None:
        super().__init__()
        self.by_name = decisions

    def make_decision(self, task_node: Any) -> PlacementDecision:
        base = task_node.transformation.basename
        return self.by_name.get(base, PlacementDecision.immediate_default())


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRayCluster]:
    before = {name: os.environ.get(name) for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")}
    with LocalRayCluster(workers=2) as started:
        started.export_auth()  # the job managers started from here (and their workers) use it
        yield started
    for name, value in before.items():  # the session's own Ray head, if one runs, keeps its token
        if value is not None:
            os.environ[name] = value


def _submit(
    kernel: ServiceProcess,
    cluster: LocalRayCluster,
    name: str,
    where: dict[str, Any],
    address: str = "",
) -> Any:
    env = RemoteEnvironment(
        name,
        config={"runtime": {"batch_size": 8}},
        address=kernel.address,
        scheduler=ByOperator(where),
        executor="ray",
        ray_address=address or cluster.address,
        collect_result=True,
    )
    stream = env.from_batch(TaggedNumbers, COUNT, 0.01).map(tag_map_node, parallelism=2)
    stream.sink(lambda r: None, parallelism=2)  # chained with the map: placed with it
    return env.submit()


def test_operators_run_where_the_scheduler_places_them(
    cluster: LocalRayCluster, kernel: ServiceProcess
) -> None:
    first, second = cluster.node_ids["sage_node_0"], cluster.node_ids["sage_node_1"]
    where = {
        "TaggedNumbers": PlacementDecision.with_node(first, reason="by node id"),
        # a node's label: the custom resource `ray start --resources` gave it (2 x 0.5 fit)
        "tag_map_node": PlacementDecision.with_resources(sage_node_1=0.5, reason="by label"),
    }
    handle = _submit(kernel, cluster, "ray-placed", where)
    handle.wait(timeout=120)
    result = handle.result()
    assert sorted(r[0] for r in result) == list(range(COUNT))
    assert {r[1] for r in result} == {first}
    assert {r[2] for r in result} == {second}


def test_a_ray_client_address_runs_the_job_placed_as_asked(
    cluster: LocalRayCluster, kernel: ServiceProcess
) -> None:
    """``ray://`` (the head's Ray Client server): the worker drives the cluster from outside it,
    as a job manager on another machine than the cluster does."""
    second = cluster.node_ids["sage_node_1"]
    where = {"TaggedNumbers": PlacementDecision.with_node(second, reason="by node id")}
    handle = _submit(kernel, cluster, "ray-client", where, address=cluster.client_address)
    handle.wait(timeout=120)
    assert handle.status().state == "succeeded", handle.status()
    result = handle.result()
    assert sorted(r[0] for r in result) == list(range(COUNT))
    assert {r[1] for r in result} == {second}


def test_a_worker_node_killed_mid_job_loses_no_record(
    cluster: LocalRayCluster, kernel: ServiceProcess
) -> None:
    first, second = cluster.node_ids["sage_node_0"], cluster.node_ids["sage_node_1"]
    where = {
        "TaggedNumbers": PlacementDecision.with_node(first),
        "tag_map_node": PlacementDecision.with_node(second),
    }
    handle = _submit(kernel, cluster, "ray-node-lost", where)
    with JobClient(address=kernel.address) as jobs:

        def logs() -> list[str]:
            return [e.log_line for e in jobs.events(handle.id, follow=False) if e.log_line]

        wait_until(
            lambda: any(line.startswith("mapped") for line in logs()),
            timeout=90,
            what="the map on the second node to process records",
        )
        assert not handle.status().done
        cluster.kill_worker(1)  # SIGKILL to its raylet and every process under it
        handle.wait(timeout=120)
        lines = logs()
    result = handle.result()
    assert any("[sage] ray: actors lost" in line for line in lines), lines
    assert handle.status().state == "succeeded"
    # at-least-once, and the collected result is the last run's: each record exactly once
    assert sorted(r[0] for r in result) == list(range(COUNT))
    assert {r[2] for r in result} == {first}  # the lost map actors now run on the node left
