"""DataStream, ConnectedStreams and the windowed/keyed views: they only add nodes and edges."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sage_client.dataflow.api import graph as g
from sage_client.dataflow.api.errors import parse_error_policy
from sage_client.dataflow.api.functions import (
    AggregateFunction,
    BaseFunction,
    JoinFunction,
)
from sage_client.dataflow.api.windows import (
    COUNT,
    EVENT_TIME,
    PROCESSING_TIME,
    TIME_DOMAINS,
    SessionWindow,
    SlidingWindow,
    TumblingWindow,
    WindowOptions,
)

if TYPE_CHECKING:
    from sage_client.dataflow.api.environment import BaseEnvironment


def _function_name(function: Any) -> str:
    if inspect.isclass(function):
        return function.__name__
    if isinstance(function, BaseFunction):
        return type(function).__name__
    return getattr(function, "__name__", type(function).__name__)


def _check_function(op: str, function: Any) -> None:
    if function is None or not (
        inspect.isclass(function)
        or callable(function)
        or isinstance(function, BaseFunction)
        or callable(getattr(function, "execute", None))
    ):
        raise TypeError(
            f"{op}() takes a Function class, a Function instance or a callable, got {function!r}"
        )


def _check_parallelism(parallelism: int) -> int:
    if not isinstance(parallelism, int) or isinstance(parallelism, bool) or parallelism < 1:
        raise ValueError(f"parallelism must be an integer >= 1, got {parallelism!r}")
    return parallelism


class DataStream:
    """A stream of records produced by one node (and one of its output ports)."""

    def __init__(
        self, env: BaseEnvironment, node_id: int, port: int = 0, keyed: bool = False
    ) -> None:
        self._env = env
        self._node_id = node_id
        self._port = port
        self.keyed = keyed

    @property
    def node(self) -> g.Node:
        return self._env.graph.nodes[self._node_id]

    # -- one-input operators ------------------------------------------------------------
    def _then(
        self,
        kind: str,
        function: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        parallelism: int | None,
        on_error: Any = None,
        processes: bool = False,
        keyed: bool | None = None,
        partition: str = g.FORWARD,
        name: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> DataStream:
        _check_function(kind, function)
        opts = dict(options or {})
        if on_error is not None:
            opts["on_error"] = parse_error_policy(on_error)
        if processes:
            if kind not in (g.MAP, g.FILTER, g.FLATMAP):
                raise ValueError(f"processes=True is supported for map/filter/flatmap, not {kind}")
            opts["processes"] = True
        node = self._env.graph.add_node(
            kind,
            name or f"{kind}:{_function_name(function)}",
            function=function,
            args=tuple(args),
            kwargs=dict(kwargs),
            # SAGE's default: every operator runs one instance unless told otherwise
            parallelism=_check_parallelism(parallelism if parallelism is not None else 1),
            options=opts,
        )
        self._env.graph.add_edge(self._node_id, node.id, partition=partition, src_port=self._port)
        return DataStream(self._env, node.id, keyed=self.keyed if keyed is None else keyed)

    def map(
        self,
        function: Any,
        *args: Any,
        parallelism: int | None = None,
        on_error: Any = None,
        processes: bool = False,
        **kwargs: Any,
    ) -> DataStream:
        """One output per record. ``processes=True`` runs instances in worker processes (CPU-bound)."""
        return self._then(
            g.MAP,
            function,
            args,
            kwargs,
            parallelism=parallelism,
            on_error=on_error,
            processes=processes,
        )

    def filter(
        self,
        function: Any,
        *args: Any,
        parallelism: int | None = None,
        on_error: Any = None,
        processes: bool = False,
        **kwargs: Any,
    ) -> DataStream:
        return self._then(
            g.FILTER,
            function,
            args,
            kwargs,
            parallelism=parallelism,
            on_error=on_error,
            processes=processes,
        )

    def flatmap(
        self,
        function: Any,
        *args: Any,
        parallelism: int | None = None,
        on_error: Any = None,
        processes: bool = False,
        **kwargs: Any,
    ) -> DataStream:
        return self._then(
            g.FLATMAP,
            function,
            args,
            kwargs,
            parallelism=parallelism,
            on_error=on_error,
            processes=processes,
        )

    flat_map = flatmap

    def sink(
        self,
        function: Any,
        *args: Any,
        parallelism: int | None = None,
        on_error: Any = None,
        **kwargs: Any,
    ) -> DataStream:
        return self._then(
            g.SINK, function, args, kwargs, parallelism=parallelism, on_error=on_error
        )

    def print(self, prefix: str = "", separator: str = " ", colored: bool = False) -> DataStream:
        """Print every record (``prefix`` + separator + record) on stdout."""
        return self._then(g.SINK, _Printer(prefix, separator), (), {}, parallelism=1, name="print")

    def keyby(
        self,
        function: Any,
        *args: Any,
        strategy: str = g.HASH,
        parallelism: int | None = None,
        **kwargs: Any,
    ) -> KeyedStream:
        """Key every record with ``function``; the next operator receives records partitioned by
        ``strategy``: ``"hash"`` (same key -> same instance), ``"broadcast"`` or ``"round_robin"``."""
        if strategy not in g.PARTITION_STRATEGIES:
            raise ValueError(
                f"keyby strategy must be one of {g.PARTITION_STRATEGIES}, got {strategy!r}"
            )
        stream = self._then(g.KEYBY, function, args, kwargs, parallelism=parallelism, keyed=True)
        return KeyedStream(self._env, stream._node_id, strategy)

    key_by = keyby

    def connect(self, *others: DataStream | ConnectedStreams) -> ConnectedStreams:
        streams: list[DataStream] = [self]
        for other in others:
            streams.extend(other.streams if isinstance(other, ConnectedStreams) else [other])
        return ConnectedStreams(self._env, streams)

    def window(  # only on keyed streams: this one explains what to do
        self,
        spec: TumblingWindow | SlidingWindow | SessionWindow,
        *,
        time: str | None = None,
        timestamp: Callable[[Any], float] | None = None,
        out_of_orderness: float = 0.0,
    ) -> WindowedStream:
        raise TypeError(
            "window() needs a keyed stream: call .keyby(fn) first "
            "(e.g. stream.keyby(lambda r: 0).window(...) for one global window)"
        )

    def fill_future(self, future: DataStream) -> None:
        """Close a feedback loop: records of this stream flow into ``future`` (from ``from_future``)."""
        node = future.node
        if node.kind != g.FUTURE:
            raise TypeError("fill_future() takes a stream created by env.from_future(name)")
        if node.options.get("filled"):
            raise ValueError(f"future {node.name!r} is already filled")
        node.options["filled"] = True
        self._env.graph.add_edge(self._node_id, node.id, feedback=True, src_port=self._port)

    def _partition_out(self) -> str:
        return g.FORWARD


class KeyedStream(DataStream):
    """A keyed stream: the next operator's edge partitions by the key."""

    def __init__(self, env: BaseEnvironment, node_id: int, strategy: str) -> None:
        super().__init__(env, node_id, keyed=True)
        self.strategy = strategy

    def _then(
        self, kind: str, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any], **kw: Any
    ) -> DataStream:
        if kw.get("partition", g.FORWARD) == g.FORWARD:
            kw["partition"] = self.strategy
        return super()._then(kind, function, args, kwargs, **kw)

    def _partition_out(self) -> str:
        return self.strategy

    def window(
        self,
        spec: TumblingWindow | SlidingWindow | SessionWindow,
        *,
        time: str | None = None,
        timestamp: Callable[[Any], float] | None = None,
        out_of_orderness: float = 0.0,
    ) -> WindowedStream:
        """Window each key's records. ``time`` is ``"event"`` (needs ``timestamp``; watermarks
        trail the largest timestamp by ``out_of_orderness``), ``"processing"`` or ``"count"``.
        Without ``time``: event time if ``timestamp`` is given, else processing time."""
        if not isinstance(spec, TumblingWindow | SlidingWindow | SessionWindow):
            raise TypeError(
                f"window() takes TumblingWindow(size), SlidingWindow(size, slide) or SessionWindow(gap), got {spec!r}"
            )
        domain = time or (EVENT_TIME if timestamp is not None else PROCESSING_TIME)
        if domain not in TIME_DOMAINS:
            raise ValueError(f"window time must be one of {TIME_DOMAINS}, got {domain!r}")
        if domain == EVENT_TIME and timestamp is None:
            raise ValueError("event-time windows need timestamp=<callable record -> float>")
        if domain == COUNT:
            if isinstance(spec, SessionWindow):
                raise ValueError(
                    "count windows are tumbling or sliding; SessionWindow needs time='event' or 'processing'"
                )
            sizes = [spec.size] + ([spec.slide] if isinstance(spec, SlidingWindow) else [])
            if any(int(s) != s for s in sizes):
                raise ValueError(f"count window sizes must be whole numbers, got {spec!r}")
        if out_of_orderness < 0:
            raise ValueError(f"out_of_orderness must be >= 0, got {out_of_orderness!r}")
        options = WindowOptions(spec, domain, timestamp, float(out_of_orderness))
        return WindowedStream(self, options)


class WindowedStream:
    """``keyby(...).window(...)``: finish with ``reduce``, ``aggregate`` or ``apply``."""

    def __init__(self, keyed: KeyedStream, options: WindowOptions) -> None:
        self._keyed = keyed
        self._options = options

    def _build(self, mode: str, function: Any, parallelism: int | None) -> WindowResultStream:
        stream = self._keyed._then(
            g.WINDOW,
            function,
            (),
            {},
            parallelism=parallelism,
            options={"window": self._options, "mode": mode},
        )
        return WindowResultStream(stream._env, stream._node_id)

    def reduce(self, function: Any, parallelism: int | None = None) -> WindowResultStream:
        """Emit ``function(function(r1, r2), r3)...`` per key and window."""
        return self._build("reduce", function, parallelism)

    def aggregate(self, function: Any, parallelism: int | None = None) -> WindowResultStream:
        """``function`` is an AggregateFunction (create_accumulator/add/get_result) or a
        ``(create, add, get_result)`` tuple."""
        if isinstance(function, tuple):
            if len(function) != 3 or not all(callable(f) for f in function):
                raise TypeError("aggregate((create, add, get_result)) takes three callables")
            function = _TupleAggregate(*function)
        elif not (
            isinstance(function, AggregateFunction)
            or (inspect.isclass(function) and issubclass(function, AggregateFunction))
        ):
            raise TypeError(
                "aggregate() takes an AggregateFunction or a (create, add, get_result) tuple"
            )
        return self._build("aggregate", function, parallelism)

    def apply(self, function: Any, parallelism: int | None = None) -> WindowResultStream:
        """``function(key, window, records)`` returns a list of outputs for each fired window."""
        return self._build("apply", function, parallelism)


class WindowResultStream(DataStream):
    def __init__(self, env: BaseEnvironment, node_id: int) -> None:
        super().__init__(env, node_id, keyed=True)

    def late_records(self) -> DataStream:
        """Side output: records that arrived after their window had fired."""
        return DataStream(self._env, self._node_id, port=1, keyed=True)


class ConnectedStreams:
    """Several streams processed together: ``comap``/``join`` see which input a record came from."""

    def __init__(self, env: BaseEnvironment, streams: Sequence[DataStream]) -> None:
        self._env = env
        self.streams = list(streams)

    def connect(self, *others: DataStream | ConnectedStreams) -> ConnectedStreams:
        return self.streams[0].connect(*self.streams[1:], *others)

    def _multi_input(
        self,
        kind: str,
        function: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        parallelism: int | None,
        indexed: bool,
        name: str | None = None,
    ) -> DataStream:
        width = parallelism if parallelism is not None else 1
        node = self._env.graph.add_node(
            kind,
            name or f"{kind}:{_function_name(function)}",
            function=function,
            args=tuple(args),
            kwargs=dict(kwargs),
            parallelism=_check_parallelism(width),
        )
        for index, stream in enumerate(self.streams):
            self._env.graph.add_edge(
                stream._node_id,
                node.id,
                input_index=index if indexed else 0,
                partition=stream._partition_out(),
                src_port=stream._port,
            )
        return DataStream(self._env, node.id, keyed=all(s.keyed for s in self.streams))

    def comap(
        self, function: Any, *args: Any, parallelism: int | None = None, **kwargs: Any
    ) -> DataStream:
        """``function`` has ``map0`` .. ``mapN``: ``mapI`` handles records of input I."""
        target = function
        for index in range(len(self.streams)):
            if not callable(getattr(target, f"map{index}", None)):
                raise TypeError(
                    f"comap() over {len(self.streams)} streams needs a CoMapFunction with map0..map{len(self.streams) - 1}; "
                    f"{_function_name(function)} has no map{index}"
                )
        return self._multi_input(g.COMAP, function, args, kwargs, parallelism, indexed=True)

    def join(
        self, function: Any, *args: Any, parallelism: int | None = None, **kwargs: Any
    ) -> DataStream:
        """Join two keyed inputs: ``execute(payload, key, tag)`` returns a list of outputs."""
        if len(self.streams) != 2:
            raise ValueError(f"join() takes exactly two streams, got {len(self.streams)}")
        unkeyed = [i for i, s in enumerate(self.streams) if not s.keyed]
        if unkeyed:
            raise ValueError(
                f"join() needs both inputs keyed; input(s) {unkeyed} have no key: call .keyby(...) on them "
                "first (or ConnectedStreams.keyby([fn0, fn1]))"
            )
        if not (
            inspect.isclass(function)
            and issubclass(function, JoinFunction)
            or isinstance(function, JoinFunction)
            or callable(function)
        ):
            raise TypeError("join() takes a JoinFunction or a callable(payload, key, tag) -> list")
        return self._multi_input(g.JOIN, function, args, kwargs, parallelism, indexed=True)

    def keyby(self, function: Any | Sequence[Any], strategy: str = g.HASH) -> ConnectedStreams:
        """Key every input: one key function for all, or a list with one per input."""
        functions = (
            list(function) if isinstance(function, list | tuple) else [function] * len(self.streams)
        )
        if len(functions) != len(self.streams):
            raise ValueError(
                f"keyby() got {len(functions)} key functions for {len(self.streams)} streams"
            )
        return ConnectedStreams(
            self._env,
            [s.keyby(f, strategy=strategy) for s, f in zip(self.streams, functions, strict=False)],
        )

    def map(
        self, function: Any, *args: Any, parallelism: int | None = None, **kwargs: Any
    ) -> DataStream:
        """Union of the inputs, then ``function`` on every record."""
        return self._multi_input(g.MAP, function, args, kwargs, parallelism, indexed=False)

    def sink(
        self, function: Any, *args: Any, parallelism: int | None = None, **kwargs: Any
    ) -> DataStream:
        return self._multi_input(g.SINK, function, args, kwargs, parallelism, indexed=False)

    def print(self, prefix: str = "", separator: str = " ") -> DataStream:
        return self._multi_input(
            g.SINK, _Printer(prefix, separator), (), {}, 1, indexed=False, name="print"
        )


class _Printer:
    """The sink behind ``print()``; a class (not a lambda) so the graph stays picklable."""

    def __init__(self, prefix: str, separator: str) -> None:
        self.prefix = prefix
        self.separator = separator

    def __call__(self, record: Any) -> None:
        if self.prefix:
            print(f"{self.prefix}{self.separator}{record}", flush=False)
        else:
            print(record, flush=False)


class _TupleAggregate(AggregateFunction):
    def __init__(
        self,
        create: Callable[[], Any],
        add: Callable[[Any, Any], Any],
        result: Callable[[Any], Any],
    ) -> None:
        super().__init__()
        self._create, self._add, self._result = create, add, result

    def create_accumulator(self) -> Any:
        return self._create()

    def add(self, accumulator: Any, record: Any) -> Any:
        return self._add(accumulator, record)

    def get_result(self, accumulator: Any) -> Any:
        return self._result(accumulator)
