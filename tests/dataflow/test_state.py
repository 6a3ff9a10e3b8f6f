import pytest

from sage_client import LocalEnvironment, MapFunction
from sage_client.dataflow.runtime.context import RuntimeContext
from sage_client.dataflow.runtime.state import MemoryStateBackend

from .conftest import Collect


def _ctx(backend: MemoryStateBackend) -> RuntimeContext:
    return RuntimeContext(
        job_name="j",
        operator_name="op",
        parallel_index=0,
        parallelism=1,
        services=None,
        state=backend,
    )


def test_state_is_separate_per_key_and_survives_snapshot_restore() -> None:
    backend = MemoryStateBackend()
    ctx = _ctx(backend)
    for key, amount in [("a", 1), ("b", 10), ("a", 2)]:
        ctx.current_key = key
        total = ctx.value_state("total", default=0)
        total.update(total.value() + amount)
        ctx.list_state("seen").add(amount)
        ctx.map_state("by_amount").put(amount, key)
    snapshot = backend.snapshot()

    restored = MemoryStateBackend()
    restored.restore(snapshot)
    ctx2 = _ctx(restored)
    ctx2.current_key = "a"
    assert ctx2.value_state("total").value() == 3
    assert ctx2.list_state("seen").get() == [1, 2]
    assert ctx2.map_state("by_amount").items() == [(1, "a"), (2, "a")]
    ctx2.current_key = "b"
    assert ctx2.value_state("total").value() == 10


def test_keyed_state_without_a_key_says_to_keyby(env: LocalEnvironment) -> None:
    class Stateful(MapFunction):
        def execute(self, data):
            return self.ctx.value_state("x").value()

    env.from_batch([1]).map(Stateful).sink(lambda x: None)
    with pytest.raises(RuntimeError, match="keyby"):
        env.submit(autostop=True)


def test_keyed_state_in_worker_processes(env: LocalEnvironment) -> None:
    class RunningCount(MapFunction):
        def execute(self, data):
            count = self.ctx.value_state("n", default=0)
            count.update(count.value() + 1)
            return (self.ctx.get_key(), count.value())

    out: list[tuple[int, int]] = []
    (
        env.from_batch(list(range(60)))
        .keyby(lambda x: x % 3)
        .map(RunningCount, parallelism=2, processes=True)
        .sink(Collect, out)
    )
    env.submit(autostop=True)
    assert sorted(out) == sorted((k, n) for k in range(3) for n in range(1, 21))


def test_ctx_logger_names_the_operator(env: LocalEnvironment) -> None:
    names: list[str] = []

    class Logs(MapFunction):
        def execute(self, data):
            names.append(self.logger.name)
            return data

    env.from_batch([1]).map(Logs).sink(lambda x: None)
    env.submit(autostop=True)
    assert names == ["sage.job.test.map:Logs[0]"]
