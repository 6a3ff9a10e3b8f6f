"""The logical graph the API builds: plain, picklable data and nothing that runs.

A runtime (the local one here, or a job-manager worker later) receives a ``LogicalGraph``,
plans it and executes it. Keep every field cloudpickle-friendly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Node kinds. Sources have no inputs; every other kind has one input edge per input index.
SOURCE = "source"  # SourceFunction / BatchFunction class or instance
COLLECTION = "collection"  # a list or iterable given to from_batch/from_collection
FUTURE = "future"  # placeholder filled later by fill_future (feedback loops)
MAP = "map"
FILTER = "filter"
FLATMAP = "flatmap"
SINK = "sink"
KEYBY = "keyby"
COMAP = "comap"
JOIN = "join"
WINDOW = "window"

# Partitioning of an edge.
FORWARD = "forward"  # one-to-one when parallelisms match, otherwise round robin
HASH = "hash"
BROADCAST = "broadcast"
ROUND_ROBIN = "round_robin"
PARTITION_STRATEGIES = (HASH, BROADCAST, ROUND_ROBIN)

STATELESS_KINDS = frozenset({MAP, FILTER, FLATMAP, SINK, KEYBY})


@dataclass
class Node:
    """One logical operator: what to run (``function`` + constructor args) and how wide."""

    id: int
    kind: str
    name: str
    function: Any = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    parallelism: int = 1
    # Kind-specific settings: window spec, error policy, "processes": True, source options...
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Edge:
    """Records flow from ``src`` to input number ``input_index`` of ``dst``."""

    src: int
    dst: int
    input_index: int = 0
    partition: str = FORWARD
    feedback: bool = False  # closes a loop through a future; excluded from end-of-stream counting
    src_port: int = 0  # 0 = main output; 1 = a window's late-record side output


@dataclass
class LogicalGraph:
    name: str
    nodes: dict[int, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    services: dict[str, Any] = field(default_factory=dict)  # name -> ServiceSpec
    config: dict[str, Any] = field(default_factory=dict)

    def add_node(self, kind: str, name: str, **fields: Any) -> Node:
        node = Node(id=len(self.nodes), kind=kind, name=name, **fields)
        self.nodes[node.id] = node
        return node

    def add_edge(self, src: int, dst: int, **fields: Any) -> Edge:
        edge = Edge(src=src, dst=dst, **fields)
        self.edges.append(edge)
        return edge

    def inputs_of(self, node_id: int) -> list[Edge]:
        return [e for e in self.edges if e.dst == node_id]

    def outputs_of(self, node_id: int) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def input_count(self, node_id: int) -> int:
        """Number of logical inputs (comap/join have several, indexed from 0)."""
        return max((e.input_index for e in self.inputs_of(node_id)), default=-1) + 1
