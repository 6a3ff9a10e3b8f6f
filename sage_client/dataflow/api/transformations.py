"""``env.pipeline``: SAGE's list of transformations, read off the logical graph.

Each entry is a view of one graph node with SAGE's attribute names (``basename``,
``function_class``, ``parallelism``); the graph stays the one description of the job.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from sage_client.dataflow.api import graph as g


@dataclass(frozen=True)
class Transformation:
    """One operator of the pipeline as SAGE shows it."""

    basename: str  # the function class's name, de-duplicated with _1, _2 ... as SAGE does
    function_class: Any  # the class (for an instance, its class; a callable as given)
    parallelism: int
    kind: str  # source, map, filter, flatmap, sink, keyby, comap, join, window, future
    node_id: int

    @property
    def is_source(self) -> bool:
        return self.kind in (g.SOURCE, g.COLLECTION)


def transformations(graph: g.LogicalGraph) -> list[Transformation]:
    """The graph's nodes in the order the program declared them."""
    seen: dict[str, int] = {}
    out: list[Transformation] = []
    for node in graph.nodes.values():
        function_class = _function_class(node)
        base = getattr(function_class, "__name__", node.name)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.append(
            Transformation(
                basename=base if count == 0 else f"{base}_{count}",
                function_class=function_class,
                parallelism=node.parallelism,
                kind=node.kind,
                node_id=node.id,
            )
        )
    return out


def _function_class(node: g.Node) -> Any:
    function = node.function
    if node.kind == g.COLLECTION:
        return type(function)
    if node.kind == g.FUTURE or function is None:
        return None
    if inspect.isclass(function) or inspect.isfunction(function) or inspect.isbuiltin(function):
        return function
    return type(function)
