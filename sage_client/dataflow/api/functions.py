"""User-facing function base classes, with SAGE's names and calling conventions.

A function is plain user code: the runtime instantiates it (or copies a given instance) once per
parallel instance, sets ``self.ctx`` and calls ``execute``. Nothing here knows about threads or
channels, so the same classes run in-process, in a worker process or on Ray.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sage_client.dataflow.runtime.context import RuntimeContext


class StopSignal:
    """Returned by a source to say "no more records". ``StopSignal`` or ``StopSignal(...)`` both work.

    SAGE's fields: ``message`` (also ``name`` and ``reason``), ``source``, ``payload`` and
    ``timestamp`` (ns)."""

    def __init__(self, message: str = "Stop", source: Any = None, payload: Any = None) -> None:
        self.message = message
        self.source = source
        self.payload = payload
        self.timestamp = time.time_ns()

    @property
    def name(self) -> str:
        return self.message

    @property
    def reason(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"StopSignal({self.message!r})"


def is_stop(value: object) -> bool:
    return value is StopSignal or isinstance(value, StopSignal)


class _ServiceCaller:
    """``self.call_service(name, ...)`` and SAGE's older ``self.call_service[name].method(...)``."""

    def __init__(self, function: Any, asynchronous: bool) -> None:
        self._function = function  # a BaseFunction or a BaseService: what owns the ctx
        self._async = asynchronous

    def __call__(
        self,
        name: str,
        *args: Any,
        method: str = "process",
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        registry = self._function._service_registry()
        if self._async:
            return registry.call_async(name, method, args, kwargs, timeout)
        return registry.call(name, method, args, kwargs, timeout)

    def __getitem__(self, name: str) -> _BoundService:
        return _BoundService(self, name)


class _BoundService:
    def __init__(self, caller: _ServiceCaller, name: str) -> None:
        self._caller = caller
        self._name = name

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def invoke(*args: Any, **kwargs: Any) -> Any:
            return self._caller(self._name, *args, method=method, **kwargs)

        return invoke


class BaseFunction:
    """Base of every user function. Subclasses override ``execute``.

    Extra constructor arguments are accepted and ignored so that SAGE code calling
    ``super().__init__(**kwargs)`` keeps working.
    """

    ctx: RuntimeContext | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.ctx = None

    def execute(self, *args: Any) -> Any:
        process = getattr(self, "process", None)  # SAGE's older functions name it process()
        if callable(process):
            return process(*args)
        raise NotImplementedError(f"{type(self).__name__} must implement execute()")

    def open(self) -> None:
        """Called once per instance after ``ctx`` is set, before the first record."""

    def close(self) -> None:
        """Called once per instance at the end of the job (after the last record)."""

    @property
    def logger(self) -> logging.Logger:
        if self.ctx is not None:
            return self.ctx.logger
        return logging.getLogger(f"sage.function.{type(self).__name__}")

    @property
    def call_service(self) -> _ServiceCaller:
        return _ServiceCaller(self, asynchronous=False)

    @property
    def call_service_async(self) -> _ServiceCaller:
        """Like ``call_service`` but returns a ``concurrent.futures.Future``."""
        return _ServiceCaller(self, asynchronous=True)

    def _service_registry(self) -> Any:
        if self.ctx is None:
            raise RuntimeError(
                f"{type(self).__name__}.call_service() was called outside a running job; "
                "services are available once the environment is submitted"
            )
        return self.ctx.services


class SourceFunction(BaseFunction):
    """Unbounded source: ``execute()`` returns one record, ``None`` for "nothing yet",
    or ``StopSignal`` to end the stream."""

    def execute(self, data: Any = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement execute()")


class BatchFunction(BaseFunction):
    """Bounded source: ``execute()`` returns one record; ``None`` or ``StopSignal`` means exhausted."""

    def execute(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement execute()")


class MapFunction(BaseFunction):
    def execute(self, data: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement execute(data)")


class FilterFunction(BaseFunction):
    def execute(self, data: Any) -> bool:
        raise NotImplementedError(f"{type(self).__name__} must implement execute(data)")


class Collector:
    """Gathers the outputs of a ``FlatMapFunction`` that prefers ``collector.collect(x)``."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Any] = []

    def collect(self, item: Any) -> None:
        self.items.append(item)


class FlatMapFunction(BaseFunction):
    """Returns an iterable of outputs, or calls ``self.collect(x)`` / ``collector.collect(x)``
    and returns None."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.collector = Collector()

    def collect(self, item: Any) -> None:
        self.collector.collect(item)

    def execute(self, data: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement execute(data)")


class SinkFunction(BaseFunction):
    """Consumes records; ``close()`` is called once at the end (after the last record)."""

    def execute(self, data: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement execute(data)")


class KeyByFunction(BaseFunction):
    """Returns the key of a record; the key must be hashable."""

    def execute(self, data: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement execute(data)")


class CoMapFunction(BaseFunction):
    """Handles connected streams: ``map0`` gets records of the first input, ``map1`` the second..."""

    def map0(self, data: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement map0(data)")

    def map1(self, data: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement map1(data)")


class JoinFunction(BaseFunction):
    """Joins two keyed inputs: ``execute(payload, key, tag)`` (tag 0 or 1 = which input)
    returns a list of outputs (possibly empty)."""

    def execute(self, payload: Any, key: Any, tag: int) -> list[Any]:  # type: ignore[override]
        raise NotImplementedError(
            f"{type(self).__name__} must implement execute(payload, key, tag)"
        )


class ReduceFunction(BaseFunction):
    """Combines two records of a window into one: ``execute(accumulated, record)``."""

    def execute(self, accumulated: Any, record: Any) -> Any:  # type: ignore[override]
        raise NotImplementedError(f"{type(self).__name__} must implement execute(a, b)")


class AggregateFunction(BaseFunction):
    """Incremental window aggregate: ``create_accumulator``, ``add``, ``get_result``."""

    def create_accumulator(self) -> Any:
        raise NotImplementedError

    def add(self, accumulator: Any, record: Any) -> Any:
        raise NotImplementedError

    def get_result(self, accumulator: Any) -> Any:
        return accumulator


class WindowFunction(BaseFunction):
    """Sees a whole window at once: ``execute(key, window, records)`` returns a list of outputs."""

    def execute(self, key: Any, window: Any, records: list[Any]) -> list[Any]:  # type: ignore[override]
        raise NotImplementedError(
            f"{type(self).__name__} must implement execute(key, window, records)"
        )
