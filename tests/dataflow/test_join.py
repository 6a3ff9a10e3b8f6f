import pytest

from sage_client import JoinFunction, LocalEnvironment

from .conftest import Collect


class OrdersWithUsers(JoinFunction):
    """Buffers each side in keyed state and emits a pair when both sides are known."""

    def execute(self, payload, key, tag):
        users = self.ctx.value_state("user")
        orders = self.ctx.list_state("orders")
        if tag == 0:
            users.update(payload["name"])
            pending = orders.get()
            orders.clear()
            return [(payload["name"], o["item"]) for o in pending]
        if users.value() is None:
            orders.add(payload)
            return []
        return [(users.value(), payload["item"])]


def test_join_pairs_records_with_the_same_key(env: LocalEnvironment) -> None:
    users = [{"id": i, "name": f"user{i}"} for i in range(5)]
    orders = [{"user": i % 5, "item": f"item{i}"} for i in range(20)]
    out: list[tuple[str, str]] = []
    left = env.from_batch(users).keyby(lambda u: u["id"])
    right = env.from_batch(orders).keyby(lambda o: o["user"])
    left.connect(right).join(OrdersWithUsers, parallelism=2).sink(Collect, out)
    env.submit(autostop=True)
    assert sorted(out) == sorted((f"user{i % 5}", f"item{i}") for i in range(20))


def test_join_accepts_a_callable(env: LocalEnvironment) -> None:
    out: list[tuple[int, int, int]] = []
    a = env.from_batch([1, 2]).keyby(lambda x: x)
    b = env.from_batch([2, 3]).keyby(lambda x: x)
    a.connect(b).join(lambda payload, key, tag: [(key, tag, payload)]).sink(Collect, out)
    env.submit(autostop=True)
    assert sorted(out) == [(1, 0, 1), (2, 0, 2), (2, 1, 2), (3, 1, 3)]


def test_join_rejects_unkeyed_inputs(env: LocalEnvironment) -> None:
    a = env.from_batch([1]).keyby(lambda x: x)
    b = env.from_batch([2])
    with pytest.raises(ValueError, match="keyed"):
        a.connect(b).join(OrdersWithUsers)


def test_connected_keyby_keys_both_inputs(env: LocalEnvironment) -> None:
    out: list[tuple[str, int]] = []
    a = env.from_batch([{"k": "a", "v": 1}])
    b = env.from_batch([{"key": "a", "v": 2}])
    joined = a.connect(b).keyby([lambda r: r["k"], lambda r: r["key"]])
    joined.join(lambda p, key, tag: [(key, p["v"])]).sink(Collect, out)
    env.submit(autostop=True)
    assert sorted(out) == [("a", 1), ("a", 2)]
