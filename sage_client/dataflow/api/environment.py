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
from sage_client.dataflow.api.transformations import Transformation, transformations
from sage_client.dataflow.services import ServiceSpec


class BaseEnvironment:
    """Builds the logical graph; subclasses decide where it runs (``_execute``)."""

    def __init__(
        self,
        name: str = "sage-job",
        config: dict[str, Any] | None = None,
        *,
        scheduler: Any = None,
        enable_monitoring: bool = False,
    ) -> None:
        """``scheduler``: SAGE's placement hook (``"fifo"``, ``"load_aware"`` or a
        ``BaseScheduler``), asked once per operator instance at submit; see
        ``sage_client.dataflow.scheduler``. ``enable_monitoring`` is accepted for SAGE programs
        (the runtime's metrics are always on)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"environment name must be a non-empty string, got {name!r}")
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        self.name = name
        self.config: dict[str, Any] = dict(config or {})
        self.graph = g.LogicalGraph(name=name, config=self.config)
        from sage_client.dataflow.scheduler import make_scheduler

        self.scheduler = make_scheduler(scheduler)
        self._scheduler_given = scheduler is not None
        self.placement: dict[tuple[int, int], Any] = {}
        self.enable_monitoring = bool(enable_monitoring)

    @property
    def pipeline(self) -> list[Transformation]:
        """SAGE's ``env.pipeline``: the declared operators (``basename``, ``function_class``,
        ``parallelism``), read off the graph."""
        return transformations(self.graph)

    # -- sources ---------------------------------------------------------------------------
    def from_source(
        self,
        function: Any,
        *args: Any,
        parallelism: int = 1,
        delay: float | None = None,
        **kwargs: Any,
    ) -> DataStream:
        """An unbounded source: a SourceFunction class (built with ``*args, **kwargs``), an
        instance, or a zero-argument callable. Its ``execute()`` returns one record per call,
        None for "nothing yet" and ``StopSignal`` to end. ``delay`` (seconds) paces it: one
        record, then a pause of ``delay`` before the next call."""
        if not (
            inspect.isclass(function) or callable(function) or isinstance(function, BaseFunction)
        ):
            raise TypeError(
                f"from_source() takes a SourceFunction class/instance or a callable, got {function!r}"
            )
        # a BatchFunction stays bounded (None = exhausted) whichever method it is given to
        bounded = _is_batch_function(function)
        options = {"bounded": bounded, **_pacing(delay)}
        return self._source(g.SOURCE, function, args, kwargs, parallelism, options)

    source = from_source  # the seeds' ``env.source(FileSource, path=...)``

    def from_batch(
        self,
        source: Any,
        *args: Any,
        parallelism: int = 1,
        delay: float | None = None,
        progress_log_interval: int | None = None,
        **kwargs: Any,
    ) -> DataStream:
        """A bounded source: a BatchFunction class/instance, or any list/iterable of records.
        ``delay`` (seconds) paces it as in ``from_source``; ``progress_log_interval`` is
        accepted for SAGE programs."""
        options = {"bounded": True, **_pacing(delay)}
        if inspect.isclass(source) or isinstance(source, BaseFunction):
            return self._source(g.SOURCE, source, args, kwargs, parallelism, options)
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
        return self._source(g.COLLECTION, source, (), {}, parallelism, options)

    from_collection = from_batch

    def from_kafka_source(self, *args: Any, parallelism: int = 1, **kwargs: Any) -> DataStream:
        """SAGE's Kafka source: ``from_kafka_source(KafkaSource, bootstrap_servers, topic,
        group_id, auto_offset_reset="latest", value_deserializer="json", buffer_size=10000,
        max_poll_records=500, **kafka_config)``; the older form without the class works too.
        See ``sage_client.dataflow.connectors.kafka``."""
        from sage_client.dataflow.connectors.kafka import kafka_source_arguments

        source_class, settings = kafka_source_arguments(args, kwargs)
        return self.from_source(source_class, parallelism=parallelism, **settings)

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

    @property
    def service_factories(self) -> dict[str, ServiceSpec]:
        """SAGE's name -> ServiceFactory map (each has ``create_service()``)."""
        return self.graph.services

    def register_service_factory(self, name: str, factory: Callable[[], Any]) -> None:
        """``factory``: a zero-argument callable, or a ServiceFactory (``service_factories[n]``)."""
        if isinstance(factory, ServiceSpec):
            self._add_service(ServiceSpec(name, factory.factory, factory.args, factory.kwargs))
            return
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

    def _place(self) -> None:
        """Ask the scheduler about every operator instance (``self.placement``); a scheduler the
        program chose also travels with the graph (``options["placement"]``) for the Ray
        executor, which pins each instance where its decision says."""
        from sage_client.dataflow.scheduler import plan_placement

        self.placement = plan_placement(self.graph, self.scheduler)
        if self._scheduler_given:
            for (node_id, index), decision in self.placement.items():
                placed = self.graph.nodes[node_id].options.setdefault("placement", {})
                placed[index] = decision.to_dict()

    def execute(self) -> Any:
        """The seeds' ``env.execute()``: ``submit(autostop=True)``."""
        return self.submit(autostop=True)

    def _execute(self, autostop: bool) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stop()

    def set_console_log_level(self, level: str | int) -> None:
        """SAGE compatibility: the level of the runtime's loggers (``"WARNING"``, ``logging.INFO``...)."""
        logging.getLogger("sage").setLevel(level)


def _pacing(delay: float | None) -> dict[str, float]:
    if delay is None:
        return {}
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ValueError(f"delay must be a number of seconds >= 0, got {delay!r}")
    return {"delay": float(delay)} if delay > 0 else {}


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
    """Runs the graph in this process with the local runtime (threads; processes opt-in).

    ``config["fault_tolerance"]`` (SAGE's ``strategy: restart | checkpoint``,
    ``checkpoint_interval``, ``max_recovery_attempts``, restart strategies) makes a failed job
    recover; see ``sage_client.dataflow.runtime.recovery``."""

    def __init__(
        self,
        name: str = "sage-job",
        config: dict[str, Any] | None = None,
        scheduler: Any = None,
        enable_monitoring: bool = False,
    ) -> None:
        super().__init__(name, config, scheduler=scheduler, enable_monitoring=enable_monitoring)
        from sage_client.dataflow.runtime.recovery import FaultTolerance

        self.fault_tolerance = FaultTolerance.from_config(self.config)  # checked now, not at submit
        self._job: Any = None

    def _execute(self, autostop: bool) -> Any:
        from sage_client.dataflow.runtime import run_graph  # the runtime is loaded only when used
        from sage_client.dataflow.runtime.recovery import RecoveringJob

        if self._job is not None and not self._job.done():
            raise RuntimeError(
                f"environment {self.name!r} already has a running job; stop() it first"
            )
        self._place()  # one process: decisions are recorded (scheduler.get_metrics()), not moved
        if self.fault_tolerance is not None:
            job: Any = RecoveringJob(self.graph, self.config, self.fault_tolerance)
        else:
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
