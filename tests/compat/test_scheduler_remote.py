"""sage.kernel.scheduler (round robin locally, honoured by Ray) and RemoteEnvironment on 19001."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from sage.common.core.functions import MapFunction
from sage.kernel.api.local_environment import LocalEnvironment
from sage.kernel.api.remote_environment import RemoteEnvironment
from sage.kernel.scheduler.api import BaseScheduler
from sage.kernel.scheduler.decision import PlacementDecision
from sage.kernel.scheduler.node_selector import NodeResources, NodeSelector

from sage_client.remote.environment import default_address
from tests.conftest import ServiceProcess


def _nodes(*names: str) -> list[NodeResources]:
    return [NodeResources(n, n, "127.0.0.1", 4, 0, 1 << 30, available_cpu=4) for n in names]


class Pinned(BaseScheduler):
    def __init__(self, node: str | None) -> None:
        super().__init__()
        self.node = node

    def make_decision(self, task_node: Any) -> PlacementDecision:
        return PlacementDecision.with_node(self.node or "", reason=task_node.name)


def test_the_default_scheduler_hands_out_nodes_round_robin() -> None:
    from sage.kernel.scheduler import FIFOScheduler

    env = LocalEnvironment("rr", scheduler=FIFOScheduler(NodeSelector(_nodes("a", "b"))))
    env.from_batch([1, 2, 3]).map(lambda x: x, parallelism=3).sink(lambda x: None)
    env.execute()
    assert [d.target_node for _, d in sorted(env.placement.items())] == ["a", "b", "a", "b", "a"]
    assert env.scheduler.get_metrics()["total_scheduled"] == 5


def test_a_scheduler_returning_something_else_is_refused_naming_the_instance() -> None:
    class Broken(BaseScheduler):
        def make_decision(self, task_node: Any) -> Any:
            return "node-1"

    env = LocalEnvironment("broken", scheduler=Broken())
    env.from_batch([1]).sink(print)
    with pytest.raises(TypeError, match="list_0.*PlacementDecision"):
        env.execute()


def test_remote_environment_defaults_to_sage_jobmanager_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SAGE_KERNEL_ADDR", raising=False)
    monkeypatch.delenv("SAGE_ETCD_ENDPOINTS", raising=False)
    assert default_address() == "127.0.0.1:19001"
    assert default_address({"SAGE_KERNEL_ADDR": "h:1"}) is None


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class Upper(MapFunction):
    def execute(self, data: Any) -> Any:
        return data.upper()


@pytest.mark.slow
def test_a_sage_program_reaches_the_job_manager_on_19001(
    start_kernel: Callable[..., ServiceProcess], capfd: pytest.CaptureFixture[str]
) -> None:
    if not _port_free(19001):
        pytest.skip("port 19001 is in use on this machine")
    start_kernel(port=19001)
    env = RemoteEnvironment("sage-remote", {}, host="127.0.0.1", port=19001)
    assert env.health_check()["status"] == "success"
    env.from_batch(["a", "b"]).map(Upper).sink(print)
    env.submit(autostop=True)
    assert env.get_job_status()["status"] == "succeeded"
    assert sorted(capfd.readouterr().out.split()) == ["A", "B"]


def _where(_: Any) -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


@pytest.mark.slow
def test_the_ray_executor_pins_instances_where_the_scheduler_says(
    start_kernel: Callable[..., ServiceProcess], ray_address: str
) -> None:
    kernel = start_kernel()

    def run(scheduler: BaseScheduler | None) -> tuple[RemoteEnvironment, list[str]]:
        env = RemoteEnvironment(
            "placed",
            {},
            address=kernel.address,
            scheduler=scheduler,
            executor="ray",
            ray_address=ray_address,
            collect_result=True,
        )
        env.from_batch([1, 2]).map(_where, parallelism=2).sink(lambda x: None)
        env.submit(autostop=True)
        assert env.job is not None
        return env, env.job.result()

    _, free = run(None)
    node = free[0]
    env, pinned = run(Pinned(node))  # pinned with NodeAffinity to the node Ray reported
    assert pinned == [node, node]
    assert {d["target_node"] for d in env.graph.nodes[1].options["placement"].values()} == {node}
    _, anywhere = run(Pinned("no-such-node"))  # an unknown node: placed freely, still runs
    assert len(anywhere) == 2
