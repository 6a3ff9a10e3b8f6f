import pytest

from sage_client import CoMapFunction, LocalEnvironment

from .conftest import Collect


class Tag(CoMapFunction):
    def map0(self, data):
        return ("left", data)

    def map1(self, data):
        return ("right", data)


class Three(CoMapFunction):
    def map0(self, data):
        return 0

    def map1(self, data):
        return 1

    def map2(self, data):
        return 2


def test_comap_routes_each_input_to_its_method(env: LocalEnvironment) -> None:
    out: list[tuple[str, int]] = []
    left = env.from_batch([1, 2, 3])
    right = env.from_batch([10, 20])
    left.connect(right).comap(Tag).sink(Collect, out)
    env.submit(autostop=True)
    assert sorted(out) == [("left", 1), ("left", 2), ("left", 3), ("right", 10), ("right", 20)]


def test_comap_over_three_streams(env: LocalEnvironment) -> None:
    out: list[int] = []
    a, b, c = env.from_batch([0] * 4), env.from_batch([0] * 5), env.from_batch([0] * 6)
    a.connect(b).connect(c).comap(Three, parallelism=2).sink(Collect, out)
    env.submit(autostop=True)
    assert sorted(out) == [0] * 4 + [1] * 5 + [2] * 6


def test_comap_needs_one_method_per_input(env: LocalEnvironment) -> None:
    a, b, c = env.from_batch([1]), env.from_batch([2]), env.from_batch([3])
    with pytest.raises(TypeError, match="map2"):
        a.connect(b, c).comap(Tag)


def test_connected_map_is_a_union(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_batch([1, 2]).connect(env.from_batch([3])).map(lambda x: x * 10).sink(Collect, out)
    env.submit(autostop=True)
    assert sorted(out) == [10, 20, 30]
