"""Environments: where a program declares sources and services, then submits the graph."""

from __future__ import annotations

import atexit
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sage_client.dataflow.api import graph as g
from sage_client.dataflow.api.datastream import DataStream
from sage_client.dataflow.api.functions import BaseFunction, BatchFunction
from sage_client.dataflow.services import ServiceSpec


class BaseEnvironment:
    """Builds the logical graph; subclasses decide where it runs (``_execute``)."""

    def __init__(self, name: str = "sage-job", config: dict[str, Any] | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"environment name must be a non-empty string, got {name!r}")
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        self.name = name
        self.config: dict[str, Any] = dict(config or {})
        self.graph = g.LogicalGraph(name=name, config=self.config)

    # -- sources ---------------------------------------------------------------------------
    def from_source(
        self, function: Any, *args: Any, parallelism: int = 1, **kwargs: Any
    ) -> DataStream:
        """An unbounded source: a SourceFunction class (built with ``*args, **kwargs``), an
        instance, or a zero-argument callable. Its ``execute()`` returns one record per call,
        None for "nothing yet" and ``StopSignal`` to end."""
        if not (
            inspect.isclass(function) or callable(function) or isinstance(function, BaseFunction)
        ):
            raise TypeError(
                f"from_source() takes a SourceFunction class/instance or a callable, got {function!r}"
            )
        # a BatchFunction stays bounded (None = exhausted) whichever method it is given to
        bounded = _is_batch_function(function)
        return self._source(g.SOURCE, function, args, kwargs, parallelism, {"bounded": bounded})

    def from_batch(
        self, source: Any, *args: Any, parallelism: int = 1, **kwargs: Any
    ) -> DataStream:
        """A bounded source: a BatchFunction class/instance, or any list/iterable of records."""
        if inspect.isclass(source) or isinstance(source, BaseFunction):
            return self._source(g.SOURCE, source, args, kwargs, parallelism, {"bounded": True})
        if isinstance(source, str | bytes) or not isinstance(source, Iterable):
            raise TypeError(
                f"from_batch() takes a BatchFunction class or a list/iterable of records, got {type(source).__name__}"
            )
        if args or kwargs:
            raise TypeError("from_batch(iterable) takes no extra arguments")
        if not isinstance(source, list | tuple | range) and parallelism != 1:
            raise ValueError(
                "from_batch(iterator) with parallelism > 1 cannot split a one-shot iterator; pass a list"
            )
        return self._source(g.COLLECTION, source, (), {}, parallelism, {"bounded": True})

    from_collection = from_batch

    def from_future(self, name: str) -> DataStream:
        """A placeholder for a feedback loop, closed later with ``stream.fill_future(future)``."""
        node = self.graph.add_node(g.FUTURE, f"future:{name}", options={"filled": False})
        return DataStream(self, node.id)

    def _source(
        self,
        kind: str,
        function: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        parallelism: int,
        options: dict[str, Any],
    ) -> DataStream:
        if not isinstance(parallelism, int) or parallelism < 1:
            raise ValueError(f"parallelism must be an integer >= 1, got {parallelism!r}")
        label = getattr(function, "__name__", type(function).__name__)
        node = self.graph.add_node(
            kind,
            f"source:{label}",
            function=function,
            args=tuple(args),
            kwargs=dict(kwargs),
            parallelism=parallelism,
            options=options,
        )
        return DataStream(self, node.id)

    # -- services --------------------------------------------------------------------------
    def register_service(self, name: str, service_class: Any, *args: Any, **kwargs: Any) -> None:
        """Make ``service_class(*args, **kwargs)`` callable by name from every function of the job."""
        if not callable(service_class):
            raise TypeError(
                f"register_service({name!r}, ...) needs a class or factory, got {service_class!r}"
            )
        self._add_service(ServiceSpec(name, service_class, tuple(args), dict(kwargs)))

    def register_service_factory(self, name: str, factory: Callable[[], Any]) -> None:
        if not callable(factory):
            raise TypeError(
                f"register_service_factory({name!r}, ...) needs a callable, got {factory!r}"
            )
        self._add_service(ServiceSpec(name, factory))

    def _add_service(self, spec: ServiceSpec) -> None:
        if not isinstance(spec.name, str) or not spec.name:
            raise ValueError(f"service name must be a non-empty string, got {spec.name!r}")
        if spec.name in self.graph.services:
            raise ValueError(
                f"service {spec.name!r} is already registered on environment {self.name!r}"
            )
        self.graph.services[spec.name] = spec

    # -- lifecycle -------------------------------------------------------------------------
    def submit(self, autostop: bool = False) -> Any:
        """Run the graph. ``autostop=True`` blocks until every record is processed (raising the
        first user-function error); otherwise the job runs in the background until ``stop()``."""
        if not self.graph.nodes:
            raise ValueError(
                f"environment {self.name!r} has no sources; add one with from_batch/from_source"
            )
        return self._execute(autostop)

    def _execute(self, autostop: bool) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stop()

    def set_console_log_level(self, level: str | int) -> None:
        """SAGE compatibility: the level of the runtime's loggers (``"WARNING"``, ``logging.INFO``...)."""
        logging.getLogger("sage").setLevel(level)


def _is_batch_function(function: Any) -> bool:
    if inspect.isclass(function):
        return issubclass(function, BatchFunction)
    return isinstance(function, BatchFunction)


def _finish_at_exit(job: Any) -> None:
    try:
        job.wait()
    except Exception:  # noqa: BLE001 - already logged; the interpreter is exiting
        logging.getLogger("sage.dataflow").exception("job failed")


class LocalEnvironment(BaseEnvironment):
    """Runs the graph in this process with the local runtime (threads; processes opt-in)."""

    def __init__(self, name: str = "sage-job", config: dict[str, Any] | None = None) -> None:
        super().__init__(name, config)
        self._job: Any = None

    def _execute(self, autostop: bool) -> Any:
        from sage_client.dataflow.runtime import run_graph  # the runtime is loaded only when used

        if self._job is not None and not self._job.done():
            raise RuntimeError(
                f"environment {self.name!r} already has a running job; stop() it first"
            )
        job = run_graph(self.graph, config=self.config)
        self._job = job
        if autostop:
            job.wait()
        elif self._bounded():
            # SAGE scripts often submit() a batch job and simply exit: finish it first
            atexit.register(_finish_at_exit, job)
        return job

    def _bounded(self) -> bool:
        return all(
            n.options.get("bounded", True)
            for n in self.graph.nodes.values()
            if n.kind in (g.SOURCE, g.COLLECTION)
        )

    @property
    def job(self) -> Any:
        return self._job

    def stop(self, timeout: float | None = None) -> None:
        """Stop the sources, let every channel drain, and wait for the job to finish."""
        if self._job is not None:
            self._job.stop(timeout=timeout)

    def close(self) -> None:
        self.stop()
