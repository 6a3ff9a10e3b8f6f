from sage_client import FilterFunction, LocalEnvironment

from .conftest import Collect


class Even(FilterFunction):
    def execute(self, data):
        return data % 2 == 0


def test_filter_class_keeps_matching_records(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_batch(range(10)).filter(Even).sink(Collect, out)
    env.submit(autostop=True)
    assert out == [0, 2, 4, 6, 8]


def test_filter_lambda_can_drop_everything(env: LocalEnvironment) -> None:
    out: list[int] = []
    env.from_batch(range(10)).filter(lambda x: False).sink(Collect, out)
    env.submit(autostop=True)
    assert out == []


def test_filter_on_keyed_stream_keeps_keys(env: LocalEnvironment) -> None:
    from sage_client import MapFunction

    class KeyOf(MapFunction):
        def execute(self, data):
            return (self.ctx.get_key(), data)

    out: list[tuple[str, int]] = []
    env.from_batch(range(20)).keyby(lambda x: "odd" if x % 2 else "even").filter(
        lambda x: x > 9
    ).map(KeyOf).sink(Collect, out)
    env.submit(autostop=True)
    assert sorted(out) == sorted(("odd" if x % 2 else "even", x) for x in range(10, 20))
