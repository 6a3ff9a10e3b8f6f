"""Turns a logical graph into tasks: chains of operators that run in one thread (no channel
between them). A node joins its upstream's chain when records would go one-to-one anyway."""

from __future__ import annotations

from dataclasses import dataclass, field

from sage_client.dataflow.api import graph as g

CHAINABLE = frozenset({g.MAP, g.FILTER, g.FLATMAP, g.SINK, g.KEYBY, g.WINDOW})


class GraphError(ValueError):
    """The graph cannot run as built; the message says what to change."""


@dataclass
class TaskSpec:
    """One chain of nodes, run by ``parallelism`` instances."""

    id: int
    nodes: list[int]
    parallelism: int
    inputs: list[g.Edge] = field(default_factory=list)  # edges into the head node
    outputs: list[g.Edge] = field(default_factory=list)  # edges out of the tail node

    @property
    def head(self) -> int:
        return self.nodes[0]

    @property
    def tail(self) -> int:
        return self.nodes[-1]


def validate(graph: g.LogicalGraph) -> None:
    for node in graph.nodes.values():
        if node.kind == g.FUTURE and not node.options.get("filled"):
            raise GraphError(
                f"{node.name} was never filled; close the loop with stream.fill_future(future)"
            )
        if node.kind == g.SOURCE or node.kind == g.COLLECTION:
            continue
        if node.kind != g.FUTURE and not graph.inputs_of(node.id):
            raise GraphError(f"node {node.name} has no input")
        if node.kind == g.FUTURE and any(not e.feedback for e in graph.inputs_of(node.id)):
            raise GraphError(f"{node.name} can only be fed by fill_future()")
    if not any(n.kind in (g.SOURCE, g.COLLECTION) for n in graph.nodes.values()):
        raise GraphError("the graph has no source; add one with from_batch() or from_source()")


def _chains_into(graph: g.LogicalGraph, upstream: g.Node, node: g.Node, chaining: bool) -> bool:
    if not chaining or node.kind not in CHAINABLE or upstream.kind == g.FUTURE:
        return False
    inputs = graph.inputs_of(node.id)
    if len(inputs) != 1:
        return False
    edge = inputs[0]
    return (
        edge.src == upstream.id
        and edge.partition == g.FORWARD
        and edge.src_port == 0
        and not edge.feedback
        and upstream.parallelism == node.parallelism
        and len(graph.outputs_of(upstream.id)) == 1
        and bool(upstream.options.get("processes")) == bool(node.options.get("processes"))
    )


def plan(graph: g.LogicalGraph, chaining: bool = True) -> list[TaskSpec]:
    validate(graph)
    task_of: dict[int, TaskSpec] = {}
    tasks: list[TaskSpec] = []
    for node_id in sorted(graph.nodes):  # creation order is a topological order (futures aside)
        node = graph.nodes[node_id]
        inputs = graph.inputs_of(node_id)
        upstream = graph.nodes[inputs[0].src] if len(inputs) == 1 else None
        if (
            upstream is not None
            and upstream.id in task_of
            and _chains_into(graph, upstream, node, chaining)
        ):
            task = task_of[upstream.id]
            task.nodes.append(node_id)
        else:
            task = TaskSpec(
                id=len(tasks), nodes=[node_id], parallelism=node.parallelism, inputs=inputs
            )
            tasks.append(task)
        task_of[node_id] = task
    for task in tasks:
        task.outputs = graph.outputs_of(task.tail)
        for inner in task.nodes[:-1]:
            assert len(graph.outputs_of(inner)) == 1
    return tasks
