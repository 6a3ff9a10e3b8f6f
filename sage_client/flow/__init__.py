"""sage_flow on SAGE Mesh: vector streams of ``(uid, timestamp, vector)`` records, windowed
joins, top-k and aggregates whose inner loops run in the native core (docs/flow.md)."""

from sage_client.flow.kernels import centroid, index_join, knn_join, range_join
from sage_client.flow.operators import (
    VectorWindowedStream,
    similarity_join,
    stream_topk,
    vector_window,
)
from sage_client.flow.records import (
    JoinMatch,
    Neighbours,
    VectorBatch,
    VectorRecord,
    WindowAggregate,
)
from sage_client.flow.sage_names import SageFlowService, SimpleStreamSource, StreamEnvironment
from sage_client.flow.targets import CollectionTarget, Hits, VDBTarget
from sage_client.flow.text import embed_texts

__all__ = [
    "CollectionTarget",
    "Hits",
    "JoinMatch",
    "Neighbours",
    "SageFlowService",
    "SimpleStreamSource",
    "StreamEnvironment",
    "VDBTarget",
    "VectorBatch",
    "VectorRecord",
    "VectorWindowedStream",
    "WindowAggregate",
    "centroid",
    "embed_texts",
    "index_join",
    "knn_join",
    "range_join",
    "similarity_join",
    "stream_topk",
    "vector_window",
]
