"""SAGE's sage_flow names (``sage.middleware.components.sage_flow``) on SAGE Mesh's flow engine.

- ``VectorRecord(uid, timestamp, vector)``.
- ``SimpleStreamSource(name)``: ``addRecord(uid, timestamp, vector)``, ``write_sink_py(name,
  callback(uid, timestamp))``; SAGE Mesh adds ``window``/``join``/``topk`` stages and
  ``write_sink(name, callback(record))`` for their outputs.
- ``StreamEnvironment()``: ``addStream(source)``, ``execute()`` (runs every added stream to the
  end, on the DataStream runtime).
- ``SageFlowService(dim=4, dtype="Float32")``: ``push(uid, vec)``, ``run()`` (drain the queue
  and execute once), ``set_sink(callback, name)``, ``env``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sage_client.dataflow.api.datastream import DataStream
from sage_client.dataflow.api.environment import BaseEnvironment, LocalEnvironment
from sage_client.dataflow.api.windows import WindowSpec
from sage_client.flow.operators import vector_window
from sage_client.flow.records import VectorRecord, as_vector

__all__ = ["SageFlowService", "SimpleStreamSource", "StreamEnvironment", "VectorRecord"]

_DTYPES = {"Float32": np.float32, "Float64": np.float64}


class _RecordSink:
    """SAGE's sink callback shape: ``callback(uid, timestamp)`` per record."""

    def __init__(self, callback: Callable[[Any, Any], Any]) -> None:
        self.callback = callback

    def __call__(self, record: Any) -> None:
        # VectorRecord: its own uid and timestamp; a stage's output (Neighbours, JoinMatch,
        # WindowAggregate): the record it is about and the end of its window.
        uid = getattr(record, "uid", getattr(record, "left", getattr(record, "key", None)))
        timestamp = getattr(record, "timestamp", None)
        if timestamp is None and getattr(record, "window", None) is not None:
            timestamp = record.window.end
        self.callback(uid, timestamp)


class SimpleStreamSource:
    """A bounded source of VectorRecord, filled with ``addRecord`` before ``execute``."""

    def __init__(self, name: str = "source", dim: int | None = None) -> None:
        self.name = name
        self.dim = dim
        self._records: list[VectorRecord] = []
        self._sinks: list[tuple[str, Callable[[Any], Any], bool]] = []
        self._stages: list[Callable[[DataStream], DataStream]] = []

    def addRecord(self, uid: Any, timestamp: float, vector: Any) -> None:  # noqa: N802 (SAGE name)
        record = VectorRecord(uid, timestamp, as_vector(vector))
        if self.dim is None:
            self.dim = record.dim
        elif record.dim != self.dim:
            raise ValueError(
                f"dimension mismatch: record {uid!r} has dimension {record.dim}, "
                f"source {self.name!r} holds vectors of dimension {self.dim}"
            )
        self._records.append(record)

    add_record = addRecord

    def write_sink_py(self, name: str, callback: Callable[[Any, float], Any]) -> None:
        """``callback(uid, timestamp)`` for every record at the end of the stream's stages."""
        self._sinks.append((name, _RecordSink(callback), True))

    def write_sink(self, name: str, callback: Callable[[Any], Any]) -> None:
        """``callback(output)`` for every output of the stages (JoinMatch, Neighbours, ...)."""
        self._sinks.append((name, callback, False))

    # -- vector stages (SAGE's Stream has window/aggregate/topk/join in C++) ----------------
    def aggregate(self, spec: WindowSpec, *, time: str | None = None) -> SimpleStreamSource:
        self._stages.append(lambda s: vector_window(s, spec, time=time, dim=self.dim).aggregate())
        return self

    def topk(
        self, target: Any, k: int = 10, spec: WindowSpec | None = None, **kw: Any
    ) -> SimpleStreamSource:
        from sage_client.flow.operators import stream_topk

        if spec is None:
            self._stages.append(lambda s: stream_topk(s, target, k, **kw))
        else:
            self._stages.append(
                lambda s: vector_window(s, spec, dim=self.dim).topk(target, k, **kw)
            )
        return self

    def join(self, other: SimpleStreamSource, spec: WindowSpec, **kw: Any) -> SimpleStreamSource:
        from sage_client.flow.operators import similarity_join

        def stage(s: DataStream) -> DataStream:
            return similarity_join(s, other._build(s._env), spec, dim=self.dim, **kw)

        self._stages.append(stage)
        return self

    def _build(self, env: BaseEnvironment) -> DataStream:
        stream = env.from_batch(list(self._records))
        for stage in self._stages:
            stream = stage(stream)
        return stream

    def _wire(self, env: LocalEnvironment) -> None:
        stream = self._build(env)
        for _name, callback, _per_record in self._sinks or [("noop", lambda r: None, False)]:
            stream.sink(callback)


class StreamEnvironment:
    """Runs the added sources' pipelines to completion (``execute``)."""

    def __init__(self, name: str = "sage_flow", config: dict[str, Any] | None = None) -> None:
        self.name = name
        self.config = config
        self._streams: list[SimpleStreamSource] = []

    def addStream(self, source: SimpleStreamSource) -> None:  # noqa: N802 (SAGE name)
        self._streams.append(source)

    add_stream = addStream

    def execute(self) -> None:
        if not self._streams:
            return
        env = LocalEnvironment(self.name, config=self.config)
        try:
            for source in self._streams:
                source._wire(env)
            env.submit(autostop=True)
        finally:
            env.close()


class SageFlowService:
    """SAGE's micro-service wrapper: ``push`` vectors, ``run`` drains them through the flow."""

    def __init__(self, dim: int = 4, dtype: str = "Float32") -> None:
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.dtype = dtype
        self._queue: queue.Queue[VectorRecord] = queue.Queue()
        self._lock = threading.Lock()
        self._sinks: list[tuple[str, Callable[[Any, float], Any]]] = []
        self._configure: Callable[[SimpleStreamSource], Any] | None = None
        self._env = StreamEnvironment("sage_flow_service")

    @property
    def env(self) -> StreamEnvironment:
        return self._env

    def push(self, uid: Any, vec: Any) -> None:
        vector = np.asarray(vec, dtype=_DTYPES[self.dtype])
        if vector.ndim != 1 or vector.shape[0] != self.dim:
            raise ValueError(
                f"dimension mismatch: vector of uid {uid!r} has shape {vector.shape}, "
                f"the service takes vectors of dimension {self.dim}"
            )
        self._queue.put(VectorRecord(uid, time.time() * 1000.0, vector))

    def set_sink(self, callback: Callable[[Any, float], Any], name: str = "py_sink") -> None:
        """``callback(uid, timestamp)`` for every record ``run`` processes."""
        self._sinks.append((name, callback))

    def set_pipeline(self, configure: Callable[[SimpleStreamSource], Any]) -> None:
        """SAGE Mesh extension: add vector stages to each run's source (e.g.
        ``lambda src: src.topk(collection, k=5).write_sink("hits", print)``)."""
        self._configure = configure

    def run(self) -> int:
        """Process everything pushed so far, once; returns how many records ran."""
        with self._lock:
            records: list[VectorRecord] = []
            while True:
                try:
                    records.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if not records:
                return 0
            source = SimpleStreamSource("sage_flow_service_source", self.dim)
            source._records = records
            for name, callback in self._sinks:
                source.write_sink_py(name, callback)
            if self._configure is not None:
                self._configure(source)
            env = StreamEnvironment("sage_flow_service")
            env.addStream(source)
            env.execute()
            self._env = env
            return len(records)
