from sage_client import CoMapFunction, LocalEnvironment

from .conftest import Collect


class Step(CoMapFunction):
    """Input 0: new numbers; input 1: numbers coming back round the loop."""

    def map0(self, data):
        return data

    def map1(self, data):
        return data


def test_feedback_loop_halves_until_small_and_ends(env: LocalEnvironment) -> None:
    out: list[int] = []
    future = env.from_future("loop")
    halved = env.from_batch([64, 10, 3]).connect(future).comap(Step).map(lambda x: x // 2)
    halved.filter(lambda x: x >= 2).fill_future(future)
    halved.filter(lambda x: x < 2).sink(Collect, out)
    env.submit(autostop=True)
    assert sorted(out) == [1, 1, 1]


def test_unfilled_future_is_reported(env: LocalEnvironment) -> None:
    import pytest

    env.from_future("never").sink(lambda x: None)
    env.from_batch([1]).sink(lambda x: None)
    with pytest.raises(ValueError, match="fill_future"):
        env.submit(autostop=True)
