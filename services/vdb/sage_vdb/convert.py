"""Conversions between VDB protobuf messages and the native core's Python values.

Vectors never become per-float Python objects: request bytes are viewed as numpy arrays and
result vectors are written back as one packed buffer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2

from sage_client.codec.metadata import dict_to_metadata
from sage_client.codec.vdb import FIELD_INCLUDES
from sage_client.codec.vectors import vector_bytes
from sage_proto.vdb.v1 import vdb_pb2


def _integral(value: Any) -> Any:
    # Struct carries every number as a double; give whole numbers back their int type so an
    # int metadata field compares as the user wrote it.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


def struct_to_filter(message: struct_pb2.Struct, present: bool) -> dict[str, Any] | None:
    if not present:
        return None
    return _integral(json_format.MessageToDict(message))  # type: ignore[no-any-return]


def filter_to_struct(target: struct_pb2.Struct, where: Mapping[str, Any] | None) -> None:
    if where is not None:
        target.update(dict(where))


def includes(fields: Iterable[int]) -> list[str]:
    return [FIELD_INCLUDES[f] for f in fields if f in FIELD_INCLUDES]


def hits_to_results(hits: Mapping[str, Any], vectors_of: Any = None) -> list[vdb_pb2.QueryResult]:
    """One QueryResult per query from the native core's column-wise hits."""
    scores = hits["scores"]
    metadatas = hits.get("metadatas")
    documents = hits.get("documents")
    results = []
    for q, ids in enumerate(hits["ids"]):
        result = vdb_pb2.QueryResult(ids=ids, scores=scores[q, : len(ids)].tolist())
        if metadatas is not None:
            result.metadatas.extend(dict_to_metadata(m) for m in metadatas[q])
        if documents is not None:
            result.documents.extend(d or "" for d in documents[q])
        if vectors_of is not None and ids:
            result.vectors = vectors_of(ids)
        results.append(result)
    return results


def records_to_points(records: Mapping[str, Any]) -> vdb_pb2.Points:
    points = vdb_pb2.Points(ids=records["ids"])
    if "vectors" in records:
        points.vectors = vector_bytes(records["vectors"])
    if "metadatas" in records:
        points.metadatas.extend(dict_to_metadata(m) for m in records["metadatas"])
    if "documents" in records:
        points.documents.extend(d or "" for d in records["documents"])
    return points
