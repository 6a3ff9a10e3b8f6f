"""The logical graph <-> ``sage.kernel.v1.JobGraph``: structure as protobuf, user code as cloudpickle.

The SDK encodes (``encode_graph``); a job-manager worker decodes (``decode_graph``) in its own
process, so a function that cannot be unpickled there fails that worker, never the manager.
"""

from __future__ import annotations

import pickle
from typing import Any

import cloudpickle

from sage_client.dataflow.api import graph as g
from sage_proto.kernel.v1 import kernel_pb2

_TO_PROTO = {
    g.FORWARD: kernel_pb2.PARTITIONING_UNSPECIFIED,
    g.HASH: kernel_pb2.PARTITIONING_HASH,
    g.BROADCAST: kernel_pb2.PARTITIONING_BROADCAST,
    g.ROUND_ROBIN: kernel_pb2.PARTITIONING_ROUND_ROBIN,
}
_FROM_PROTO = {v: k for k, v in _TO_PROTO.items()}


class GraphEncodingError(ValueError):
    """Part of the pipeline cannot be serialized; the message names the operator and the cause."""


class GraphDecodingError(ValueError):
    """The pipeline cannot be rebuilt on the worker (a module missing there, corrupt bytes)."""


def _dumps(what: str, value: Any) -> bytes:
    try:
        return cloudpickle.dumps(value)
    except Exception as exc:  # noqa: BLE001 - pickling raises many types (TypeError, PicklingError...)
        raise GraphEncodingError(
            f"{what} cannot be serialized with cloudpickle ({type(exc).__name__}: {exc}); "
            "define it at module level or keep unpicklable objects (locks, sockets, open files, "
            "generators) out of it and create them in open()/__init__ on the worker"
        ) from exc


def _loads(what: str, data: bytes) -> Any:
    try:
        return cloudpickle.loads(data)
    except ModuleNotFoundError as exc:
        raise GraphDecodingError(
            f"{what} needs module {exc.name!r}, which is not installed on the job worker; install "
            "it there (same environment as the job manager) or define the code in the submitted script"
        ) from exc
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError) as exc:
        raise GraphDecodingError(
            f"{what} cannot be deserialized on the job worker ({type(exc).__name__}: {exc}); "
            "client and worker need the same Python and library versions"
        ) from exc


def encode_graph(graph: g.LogicalGraph) -> kernel_pb2.JobGraph:
    """The protobuf form of ``graph``; raises GraphEncodingError naming what cannot be pickled."""
    operators = [
        kernel_pb2.Operator(
            id=str(node.id),
            kind=node.kind,
            name=node.name,
            function=_dumps(
                f"operator {node.name!r} ({node.kind})",
                (node.function, node.args, node.kwargs, node.options),
            ),
            parallelism=node.parallelism,
        )
        for node in graph.nodes.values()
    ]
    edges = [
        kernel_pb2.Edge(
            source_id=str(e.src),
            target_id=str(e.dst),
            input_index=e.input_index,
            partitioning=_TO_PROTO[e.partition],
            feedback=e.feedback,
            source_port=e.src_port,
        )
        for e in graph.edges
    ]
    environment = _dumps(
        "the environment (registered services and config)",
        {"name": graph.name, "services": graph.services, "config": graph.config},
    )
    return kernel_pb2.JobGraph(operators=operators, edges=edges, environment=environment)


def check_structure(graph: kernel_pb2.JobGraph) -> None:
    """Cheap checks a server can run without loading user code; raises ValueError with the field."""
    if not graph.operators:
        raise ValueError("graph.operators is empty; a job needs at least one source")
    ids = set()
    for i, op in enumerate(graph.operators):
        if not op.id.isdigit():
            raise ValueError(f"graph.operators[{i}].id must be a decimal integer, got {op.id!r}")
        if op.id in ids:
            raise ValueError(f"graph.operators[{i}].id {op.id!r} appears twice")
        ids.add(op.id)
        if op.parallelism < 1:
            raise ValueError(f"graph.operators[{i}].parallelism must be >= 1, got {op.parallelism}")
    for i, e in enumerate(graph.edges):
        for end in ("source_id", "target_id"):
            if getattr(e, end) not in ids:
                raise ValueError(f"graph.edges[{i}].{end} {getattr(e, end)!r} names no operator")
        if e.partitioning not in _FROM_PROTO:
            raise ValueError(f"graph.edges[{i}].partitioning {e.partitioning} is unknown")


def decode_graph(graph: kernel_pb2.JobGraph) -> g.LogicalGraph:
    """Rebuild the logical graph (unpickles user code: call it in the worker, not the manager)."""
    env = _loads("the environment", graph.environment)
    logical = g.LogicalGraph(name=env["name"], services=env["services"], config=env["config"])
    for op in graph.operators:
        function, args, kwargs, options = _loads(f"operator {op.name!r}", op.function)
        node = g.Node(
            id=int(op.id),
            kind=op.kind,
            name=op.name,
            function=function,
            args=tuple(args),
            kwargs=dict(kwargs),
            parallelism=op.parallelism,
            options=dict(options),
        )
        logical.nodes[node.id] = node
    for e in graph.edges:
        logical.add_edge(
            int(e.source_id),
            int(e.target_id),
            input_index=e.input_index,
            partition=_FROM_PROTO[e.partitioning],
            feedback=e.feedback,
            src_port=e.source_port,
        )
    return logical
