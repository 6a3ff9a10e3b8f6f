from sage_client import LocalEnvironment, MapFunction

from .conftest import Collect


class AddOffset(MapFunction):
    def __init__(self, offset: int, **kwargs):
        super().__init__(**kwargs)
        self.offset = offset

    def execute(self, data):
        return data + self.offset


def test_map_class_receives_constructor_arguments(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_batch([1, 2, 3]).map(AddOffset, 10).sink(Collect, out)
    env.submit(autostop=True)
    assert out == [11, 12, 13]


def test_map_accepts_lambda_and_keeps_order(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_batch(range(5000)).map(lambda x: x * 3).sink(Collect, out)
    env.submit(autostop=True)
    assert out == [x * 3 for x in range(5000)]


def test_parallel_map_processes_every_record_once(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_batch(list(range(3000))).map(lambda x: -x, parallelism=3).sink(
        Collect, out, parallelism=1
    )
    env.submit(autostop=True)
    assert sorted(out) == sorted(-x for x in range(3000))


def test_map_sees_its_parallel_index(env: LocalEnvironment) -> None:
    class Where(MapFunction):
        def execute(self, data):
            return (self.ctx.parallel_index, self.ctx.parallelism)

    out: list[tuple[int, int]] = []
    env.from_batch(list(range(100))).map(lambda x: x, parallelism=2).map(Where, parallelism=2).sink(
        Collect, out
    )
    env.submit(autostop=True)
    assert {p for _, p in out} == {2}
    assert {i for i, _ in out} == {0, 1}


def test_map_instance_is_used_directly(env: LocalEnvironment) -> None:
    class Count(MapFunction):
        def __init__(self):
            super().__init__()
            self.seen = 0

        def execute(self, data):
            self.seen += 1
            return data

    counter = Count()
    env.from_batch([1, 2, 3]).map(counter).sink(lambda x: None)
    env.submit(autostop=True)
    assert counter.seen == 3


def test_processes_map_runs_in_worker_processes(env: LocalEnvironment) -> None:
    import os

    out: list[int] = []
    env.from_batch(list(range(50))).map(lambda x: os.getpid(), parallelism=2, processes=True).sink(
        Collect, out
    )
    env.submit(autostop=True)
    assert len(out) == 50
    assert os.getpid() not in out
    assert len(set(out)) == 2
