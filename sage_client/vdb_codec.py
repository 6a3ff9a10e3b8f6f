"""Encoding shared by the VDB client and service: typed metadata and packed float32 vectors."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from sage_proto.common.v1 import common_pb2

FLOAT32 = np.dtype("<f4")


def pack_vectors(vectors: npt.ArrayLike, dimension: int | None = None) -> tuple[bytes, int]:
    """(packed little-endian float32 bytes, number of rows); one copy at most."""
    array = np.ascontiguousarray(vectors, dtype=FLOAT32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (n, dimension); got shape {array.shape}")
    if dimension is not None and array.shape[1] != dimension:
        raise ValueError(f"vectors have dimension {array.shape[1]}; expected {dimension}")
    return array.tobytes(), array.shape[0]


def unpack_vectors(data: bytes, rows: int) -> np.ndarray:
    """A read-only (rows, dimension) float32 view over packed bytes."""
    if rows == 0:
        return np.empty((0, 0), dtype=np.float32)
    return np.frombuffer(data, dtype=FLOAT32).reshape(rows, -1)


def metadata_to_dict(meta: common_pb2.Metadata) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in meta.fields.items():
        kind = value.WhichOneof("kind")
        if kind == "string_list_value":
            out[key] = list(value.string_list_value.values)
        elif kind is not None:
            out[key] = getattr(value, kind)
    return out


def dict_to_metadata(values: Mapping[str, Any] | None) -> common_pb2.Metadata:
    meta = common_pb2.Metadata()
    for key, value in (values or {}).items():
        slot = meta.fields[key]
        # bool before int: bool is a subclass of int.
        if isinstance(value, bool):
            slot.bool_value = value
        elif isinstance(value, int):
            slot.int_value = value
        elif isinstance(value, float):
            slot.double_value = value
        elif isinstance(value, str):
            slot.string_value = value
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            slot.string_list_value.values.extend(value)
        else:
            raise TypeError(f"metadata field {key!r}: {type(value).__name__} is not a str, int, float, bool "
                            "or list of str")
    return meta
