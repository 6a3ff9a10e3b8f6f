import pytest

from sage_client import KeyByFunction, LocalEnvironment, MapFunction

from .conftest import Collect


class ByUser(KeyByFunction):
    def execute(self, data):
        return data["user"]


class Where(MapFunction):
    def execute(self, data):
        return (self.ctx.get_key(), self.ctx.parallel_index, data["n"])


def test_hash_keyby_sends_each_key_to_one_instance(env: LocalEnvironment) -> None:
    records = [{"user": f"u{i % 7}", "n": i} for i in range(700)]
    out: list[tuple[str, int, int]] = []
    env.from_batch(records).keyby(ByUser).map(Where, parallelism=3).sink(Collect, out)
    env.submit(autostop=True)
    instances_per_key: dict[str, set[int]] = {}
    for key, index, _ in out:
        instances_per_key.setdefault(key, set()).add(index)
    assert all(len(v) == 1 for v in instances_per_key.values())
    assert sorted(n for _, _, n in out) == list(range(700))


def test_hash_keyby_keeps_per_key_order(env: LocalEnvironment) -> None:
    out: list[tuple[str, int, int]] = []
    records = [{"user": f"u{i % 5}", "n": i} for i in range(5000)]
    env.from_batch(records).keyby(ByUser).map(Where, parallelism=2).sink(Collect, out)
    env.submit(autostop=True)
    for user in {r["user"] for r in records}:
        seen = [n for key, _, n in out if key == user]
        assert seen == sorted(seen)


def test_broadcast_keyby_reaches_every_instance(env: LocalEnvironment) -> None:
    out: list[tuple[str, int, int]] = []
    records = [{"user": "x", "n": i} for i in range(10)]
    env.from_batch(records).keyby(ByUser, strategy="broadcast").map(Where, parallelism=3).sink(
        Collect, out
    )
    env.submit(autostop=True)
    assert len(out) == 30
    assert {index for _, index, _ in out} == {0, 1, 2}


def test_round_robin_keyby_spreads_records(env: LocalEnvironment) -> None:
    out: list[tuple[str, int, int]] = []
    records = [{"user": "x", "n": i} for i in range(10)]
    env.from_batch(records).keyby(ByUser, strategy="round_robin").map(Where, parallelism=2).sink(
        Collect, out
    )
    env.submit(autostop=True)
    assert sorted(n for _, _, n in out) == list(range(10))
    counts = [sum(1 for _, i, _ in out if i == k) for k in (0, 1)]
    assert counts == [5, 5]


def test_unknown_strategy_is_rejected(env: LocalEnvironment) -> None:
    with pytest.raises(ValueError, match="strategy must be one of"):
        env.from_batch([1]).keyby(lambda x: x, strategy="random")


def test_unhashable_key_fails_with_a_clear_error(env: LocalEnvironment) -> None:
    env.from_batch([[1], [2]]).keyby(lambda x: x).map(lambda x: x, parallelism=2).sink(
        lambda x: None
    )
    with pytest.raises(TypeError, match="unhashable key"):
        env.submit(autostop=True)
