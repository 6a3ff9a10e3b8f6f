from sage_client import FlatMapFunction, LocalEnvironment

from .conftest import Collect


class SplitReturn(FlatMapFunction):
    def execute(self, data):
        return data.split()


class SplitCollect(FlatMapFunction):
    def execute(self, data):
        for word in data.split():
            self.collect(word)


def test_flatmap_returning_a_list(env: LocalEnvironment) -> None:
    out: list[str] = []
    env.from_batch(["a b", "", "c"]).flatmap(SplitReturn).sink(Collect, out)
    env.submit(autostop=True)
    assert out == ["a", "b", "c"]


def test_flatmap_with_collector(env: LocalEnvironment) -> None:
    out: list[str] = []
    env.from_batch(["a b", "c d e"]).flatmap(SplitCollect).sink(Collect, out)
    env.submit(autostop=True)
    assert out == ["a", "b", "c", "d", "e"]


def test_flatmap_lambda_with_generator(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_batch([1, 2, 3]).flatmap(lambda n: (n for _ in range(n))).sink(Collect, out)
    env.submit(autostop=True)
    assert out == [1, 2, 2, 3, 3, 3]
