"""Planning (chaining), end of stream, backpressure and the graph as plain data."""

import threading
import time

import cloudpickle

from sage_client import LocalEnvironment, MapFunction, SourceFunction
from sage_client.dataflow.runtime import run_graph
from sage_client.dataflow.runtime.planner import plan

from .conftest import Collect


def test_stateless_neighbours_are_chained_into_one_task(env: LocalEnvironment) -> None:
    env.from_batch([1]).map(lambda x: x).filter(bool).flatmap(lambda x: [x]).sink(lambda x: None)
    tasks = plan(env.graph)
    assert [len(t.nodes) for t in tasks] == [5]


def test_keyby_and_parallelism_changes_split_tasks(env: LocalEnvironment) -> None:
    (
        env.from_batch([1])
        .map(lambda x: x)
        .keyby(lambda x: x)
        .map(lambda x: x, parallelism=2)
        .map(lambda x: x, parallelism=3)
        .sink(lambda x: None, parallelism=3)
    )
    tasks = plan(env.graph)
    assert [(len(t.nodes), t.parallelism) for t in tasks] == [(3, 1), (1, 2), (2, 3)]


def test_fan_out_is_not_chained(env: LocalEnvironment) -> None:
    stream = env.from_batch([1]).map(lambda x: x)
    stream.sink(lambda x: None)
    stream.sink(lambda x: None)
    assert [len(t.nodes) for t in plan(env.graph)] == [2, 1, 1]


def test_chaining_can_be_switched_off() -> None:
    env = LocalEnvironment("unchained", config={"runtime": {"chaining": False}})
    env.from_batch([1, 2]).map(lambda x: x).sink(lambda x: None)
    assert len(plan(env.graph, chaining=False)) == 3
    env.submit(autostop=True)


def test_end_of_stream_waits_for_every_parallel_upstream_instance() -> None:
    class SlowTail(MapFunction):
        def execute(self, data):
            if self.ctx.parallel_index == 1:
                time.sleep(0.0005)
            return data

    # small batches so the slow instance is still sending after the fast one has ended
    env = LocalEnvironment("eos", config={"runtime": {"batch_size": 8}})
    out: list[int] = []
    (
        env.from_batch(list(range(2000)), parallelism=2)
        .map(SlowTail, parallelism=2)
        .keyby(lambda x: x % 3)
        .map(lambda x: x, parallelism=3)
        .sink(Collect, out, parallelism=1)
    )
    env.submit(autostop=True)
    assert sorted(out) == list(range(2000))


def test_unbounded_source_is_held_back_by_a_slow_sink() -> None:
    produced = []

    class Endless(SourceFunction):
        def execute(self, data=None):
            produced.append(1)
            return len(produced)

    config = {"batch_size": 10, "channel_capacity": 2}
    env = LocalEnvironment("backpressure", config={"runtime": config})
    env.from_source(Endless).sink(lambda x: time.sleep(0.01), parallelism=2)
    env.submit()
    time.sleep(0.5)
    in_flight_bound = (
        2 * (2 + 1) * 10 + 10 + 20
    )  # two channels + one batch in hand each + source buffer
    consumed_bound = 2 * 0.6 / 0.01
    produced_so_far = len(produced)
    env.stop()
    assert produced_so_far <= consumed_bound + in_flight_bound


def test_graph_survives_cloudpickle_and_runs_from_the_copy() -> None:
    env = LocalEnvironment("shipped")
    env.from_batch([1, 2, 3]).map(lambda x: x + 1).keyby(lambda x: x % 2).map(
        lambda x: x * 10, parallelism=2
    ).print()
    copy = cloudpickle.loads(cloudpickle.dumps(env.graph))
    out: list[int] = []
    sink_node = max(copy.nodes.values(), key=lambda n: n.id)
    sink_node.function, sink_node.args = Collect, (out,)
    run_graph(copy).wait()
    assert sorted(out) == [20, 30, 40]


def test_stop_drains_records_already_inside_the_pipeline() -> None:
    gate = threading.Event()
    out: list[int] = []

    class Burst(SourceFunction):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.n = 0

        def execute(self, data=None):
            if self.n == 500:
                gate.set()
                return None
            self.n += 1
            return self.n

    env = LocalEnvironment("drain")
    env.from_source(Burst).map(lambda x: (time.sleep(0.001), x)[1], parallelism=2).sink(
        Collect, out
    )
    env.submit()
    gate.wait(5)
    env.stop()
    assert sorted(out) == list(range(1, 501))


def test_submitting_twice_while_running_is_refused() -> None:
    import pytest

    env = LocalEnvironment("twice")
    env.from_source(lambda: None).sink(lambda x: None)
    env.submit()
    try:
        with pytest.raises(RuntimeError, match="already has a running job"):
            env.submit()
    finally:
        env.stop()


def test_batch_job_submitted_without_autostop_finishes_before_exit() -> None:
    import subprocess
    import sys

    script = (
        "from sage_client import LocalEnvironment\n"
        "env = LocalEnvironment('exit')\n"
        "env.from_batch(range(5000)).map(lambda x: x, parallelism=2).filter(lambda x: x % 1000 == 0).print()\n"
        "env.submit()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert sorted(int(line) for line in result.stdout.split()) == [0, 1000, 2000, 3000, 4000]


def test_unknown_runtime_setting_is_rejected() -> None:
    import pytest

    env = LocalEnvironment("typo", config={"runtime": {"batchsize": 10}, "app_key": 1})
    env.from_batch([1]).sink(lambda x: None)
    with pytest.raises(ValueError, match="batchsize"):
        env.submit(autostop=True)
