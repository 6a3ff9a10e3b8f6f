import time

import pytest

from sage_client import LocalEnvironment, MapFunction, ServiceNotFoundError, set_remote_resolver
from sage_client.dataflow import services as services_module

from .conftest import Collect


class Doubler:
    def __init__(self, factor=2):
        self.factor = factor
        self.calls = 0

    def process(self, x):
        self.calls += 1
        return x * self.factor

    def describe(self, x, suffix=""):
        return f"{x}{suffix}"


class UsesService(MapFunction):
    def execute(self, data):
        return self.call_service("doubler", data)


class UsesMethod(MapFunction):
    def execute(self, data):
        return self.call_service("doubler", data, method="describe", suffix="!")


class UsesAsync(MapFunction):
    def execute(self, data):
        return self.call_service_async("doubler", data).result(timeout=5)


class UsesBrackets(MapFunction):
    def execute(self, data):
        return self.call_service["doubler"].process(data)


@pytest.mark.parametrize("function", [UsesService, UsesAsync, UsesBrackets])
def test_registered_service_is_called_in_process(env: LocalEnvironment, function) -> None:
    env.register_service("doubler", Doubler, 3)
    out: list[int] = []
    env.from_batch([1, 2, 3]).map(function).sink(Collect, out)
    env.submit(autostop=True)
    assert out == [3, 6, 9]


def test_call_service_picks_the_method(env: LocalEnvironment) -> None:
    env.register_service_factory("doubler", lambda: Doubler())
    out: list[str] = []
    env.from_batch([1]).map(UsesMethod).sink(Collect, out)
    env.submit(autostop=True)
    assert out == ["1!"]


def test_unknown_service_names_the_registered_ones(env: LocalEnvironment) -> None:
    env.register_service("other", Doubler)
    env.from_batch([1]).map(UsesService).sink(lambda x: None)
    with pytest.raises(ServiceNotFoundError, match=r"'doubler'.*registered: other"):
        env.submit(autostop=True)


_installed_resolver = services_module._remote_resolver


def test_remote_resolver_is_the_fallback(env: LocalEnvironment) -> None:
    asked: list[str] = []

    def resolver(name):
        asked.append(name)
        return Doubler(10) if name == "doubler" else None

    set_remote_resolver(resolver)
    try:
        out: list[int] = []
        env.from_batch([1, 2]).map(UsesService).sink(Collect, out)
        env.submit(autostop=True)
    finally:
        set_remote_resolver(
            _installed_resolver
        )  # put back the one sage_client installs (seed names)
    assert out == [10, 20]
    assert asked == ["doubler"]  # resolved once, then cached for the job


def test_local_service_shadows_remote(env: LocalEnvironment) -> None:
    set_remote_resolver(lambda name: Doubler(100))
    try:
        env.register_service("doubler", Doubler, 2)
        out: list[int] = []
        env.from_batch([1]).map(UsesService).sink(Collect, out)
        env.submit(autostop=True)
    finally:
        set_remote_resolver(
            _installed_resolver
        )  # put back the one sage_client installs (seed names)
    assert out == [2]


def test_service_calls_from_parallel_instances_are_serialised(env: LocalEnvironment) -> None:
    class Racy:
        def __init__(self):
            self.inside = 0
            self.overlaps = 0

        def process(self, x):
            self.inside += 1
            if self.inside > 1:
                self.overlaps += 1
            time.sleep(0.0005)  # yields the GIL: without serialisation others would enter now
            self.inside -= 1
            return self.overlaps

    env.register_service("doubler", Racy)
    out: list[int] = []
    env.from_batch(list(range(200))).map(UsesService, parallelism=4).sink(Collect, out)
    env.submit(autostop=True)
    assert max(out) == 0


def test_duplicate_service_name_is_rejected(env: LocalEnvironment) -> None:
    env.register_service("a", Doubler)
    with pytest.raises(ValueError, match="already registered"):
        env.register_service("a", Doubler)
