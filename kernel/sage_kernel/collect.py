"""collect_result: every sink also hands its records to a collector in the worker process."""

from __future__ import annotations

import threading
from typing import Any

from sage_client.dataflow.api import graph as g
from sage_client.dataflow.api.functions import SinkFunction
from sage_client.dataflow.runtime import operators as ops


class Collector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[Any] = []

    def extend(self, records: list[Any]) -> None:
        with self._lock:
            self.records.extend(records)

    def copy(self) -> list[Any]:
        with self._lock:
            return list(self.records)

    def replace(self, records: list[Any]) -> None:
        with self._lock:
            self.records = list(records)

    def take(self) -> list[Any]:
        with self._lock:
            out, self.records = self.records, []
        return out


# one per process: the local executor's sinks and a Ray actor's sinks both append here
COLLECTOR = Collector()


class CollectingSink(SinkFunction):
    """Wraps the user's sink node: records go to COLLECTOR, then to the user's function."""

    def __init__(self, inner: g.Node, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner_node = inner
        self.inner: Any = None

    def open(self) -> None:
        assert self.ctx is not None  # bound by the runtime before open()
        self.inner = ops.instantiate(self.inner_node, self.ctx.parallel_index)
        ops.bind(self.inner, self.ctx)
        self._execute = ops.entry_point(self.inner)

    def execute(self, data: Any) -> None:
        COLLECTOR.extend([data])
        self._execute(data)

    def close(self) -> None:
        if self.inner is not None:
            ops.close_function(self.inner)


def collect_sinks(graph: g.LogicalGraph) -> None:
    """Rewrite every sink node of ``graph`` in place to collect its records."""
    for node in graph.nodes.values():
        if node.kind != g.SINK:
            continue
        inner = g.Node(
            id=node.id,
            kind=node.kind,
            name=node.name,
            function=node.function,
            args=node.args,
            kwargs=node.kwargs,
            parallelism=node.parallelism,
        )
        node.function, node.args, node.kwargs = CollectingSink, (inner,), {}
