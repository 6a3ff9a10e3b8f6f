"""BaseService (ctx, logger, call_service, setup/cleanup) and seed 001's call_service styles."""

from __future__ import annotations

from typing import Any

import pytest
from sage.api.function.base_function import BaseFunction
from sage.common.core.functions import BatchFunction, SinkFunction
from sage.kernel.api.local_environment import LocalEnvironment
from sage.kernel.api.service.base_service import BaseService

EVENTS: list[str] = []


class Store(BaseService):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.name_at_init = self.ctx.name if self.ctx else None  # SAGE injects ctx first
        self.data: dict[str, Any] = {}

    def setup(self) -> None:
        EVENTS.append(f"setup {self.name}")

    def cleanup(self) -> None:
        EVENTS.append(f"cleanup {self.name}")

    def put(self, key: str, value: Any) -> None:
        self.data[self.prefix + key] = value

    def get(self, key: str) -> Any:
        return self.data.get(self.prefix + key)


class Front(BaseService):
    """Calls another service of the job (service-to-service)."""

    def process(self, key: str) -> Any:
        self.logger.info("front asked for %s", key)
        return self.call_service("store", key, method="get")


class Put(BaseFunction):  # seed 001: a BaseFunction with process(), call_service[name].method()
    def process(self, data: Any) -> Any:
        self.call_service["store"].put(str(data), data * 10)
        return data


class Ask(SinkFunction):
    def __init__(self, out: list[Any]) -> None:
        super().__init__()
        self.out = out

    def execute(self, data: Any) -> None:
        self.out.append(self.call_service("front", str(data)))


class Numbers(BatchFunction):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def execute(self) -> Any:
        self.n += 1
        return self.n if self.n <= 3 else None


def test_seed_001_pipeline_calls_services_and_runs_with_execute() -> None:
    EVENTS.clear()
    env = LocalEnvironment("seed-001", {})
    env.register_service("store", Store, "k:")
    env.register_service("front", Front)
    out: list[Any] = []
    env.from_batch(Numbers).map(Put()).sink(Ask, out)
    env.execute()
    assert sorted(out) == [10, 20, 30]
    assert EVENTS == ["setup store", "cleanup store"]


def test_service_gets_its_context_before_init_runs() -> None:
    env = LocalEnvironment("ctx")
    env.register_service("store", Store, "p")
    service = env.service_factories["store"].create_service()
    assert service.name_at_init == "store" and service.logger.name.endswith("store")


def test_a_service_without_process_answers_attribute_calls() -> None:
    class Reader(SinkFunction):
        def __init__(self, out: list[Any]) -> None:
            super().__init__()
            self.out = out

        def execute(self, data: Any) -> None:
            store = self.call_service("store")
            store.put("x", data)
            self.out.append(store.get("x", timeout=5))

    env = LocalEnvironment("proxy")
    env.register_service("store", Store, "")
    out: list[Any] = []
    env.from_batch([7]).sink(Reader, out)
    env.execute()
    assert out == [7]


def test_calling_an_unknown_service_names_the_registered_ones() -> None:
    from sage_client import ServiceNotFoundError

    class Caller(SinkFunction):
        def execute(self, data: Any) -> None:
            self.call_service("nope", data)

    env = LocalEnvironment("unknown")
    env.register_service("store", Store, "")
    env.from_batch([1]).sink(Caller)
    with pytest.raises(ServiceNotFoundError, match="store"):
        env.execute()
