import threading
import time

import pytest

from sage_client import BatchFunction, LocalEnvironment, SourceFunction, StopSignal

from .conftest import Collect


class Countdown(SourceFunction):
    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = n

    def execute(self, data=None):
        if self.n == 0:
            return StopSignal("done")
        self.n -= 1
        return self.n


class Bursty(SourceFunction):
    """Alternates records and "nothing yet" (None), then stops."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def execute(self, data=None):
        self.calls += 1
        if self.calls > 20:
            return StopSignal
        return None if self.calls % 2 else self.calls


def test_source_ends_on_stop_signal(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_source(Countdown, 5).sink(Collect, out)
    env.submit(autostop=True)
    assert out == [4, 3, 2, 1, 0]


def test_source_returning_none_means_nothing_yet(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_source(Bursty).sink(Collect, out)
    env.submit(autostop=True)
    assert out == list(range(2, 21, 2))


def test_parallel_source_runs_one_function_per_instance(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_source(Countdown, 3, parallelism=2).sink(Collect, out)
    env.submit(autostop=True)
    assert sorted(out) == [0, 0, 1, 1, 2, 2]


def test_batch_function_ends_on_none(env: LocalEnvironment) -> None:
    class Three(BatchFunction):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.items = ["a", "b", "c"]

        def execute(self):
            return self.items.pop(0) if self.items else None

    out: list[str] = []
    env.from_batch(Three).sink(Collect, out)
    env.submit(autostop=True)
    assert out == ["a", "b", "c"]


def test_from_collection_accepts_iterators(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_collection(x * x for x in range(3000)).sink(Collect, out)
    env.submit(autostop=True)
    assert out == [x * x for x in range(3000)]


def test_parallel_collection_is_split_between_instances(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_batch(list(range(1001)), parallelism=3).sink(Collect, out)
    env.submit(autostop=True)
    assert sorted(out) == list(range(1001))


def test_from_batch_rejects_a_string(env: LocalEnvironment) -> None:
    with pytest.raises(TypeError, match="list/iterable"):
        env.from_batch("abc")


def test_from_batch_rejects_parallel_iterator(env: LocalEnvironment) -> None:
    with pytest.raises(ValueError, match="pass a list"):
        env.from_batch(iter([1, 2]), parallelism=2)


def test_unbounded_source_runs_until_stop_and_drains(env: LocalEnvironment) -> None:
    class Counter(SourceFunction):
        produced = 0

        def execute(self, data=None):
            Counter.produced += 1
            return Counter.produced - 1

    out: list[int] = []
    env.from_source(Counter).map(lambda x: x, parallelism=2).sink(Collect, out)
    env.submit()
    time.sleep(0.3)
    env.stop()
    assert len(out) > 0
    assert sorted(out) == list(range(Counter.produced))  # every record produced got through


def test_submit_without_autostop_returns_immediately(env: LocalEnvironment) -> None:
    gate = threading.Event()

    def source():
        gate.wait(5)
        return StopSignal

    env.from_source(source).sink(lambda x: None)
    start = time.monotonic()
    job = env.submit()
    assert time.monotonic() - start < 1
    assert not job.done()
    gate.set()
    job.wait(5)
    assert job.done()


def test_batch_function_given_to_from_source_still_ends_on_none(env: LocalEnvironment) -> None:
    class Two(BatchFunction):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.left = 2

        def execute(self):
            self.left -= 1
            return None if self.left < 0 else self.left

    out: list[int] = []
    env.from_source(Two).sink(Collect, out)
    env.submit(autostop=True)
    assert out == [1, 0]
