"""Packed vectors: the contract's one encoding of float32 arrays (little-endian, row-major bytes).

Every service and client packs and unpacks vectors here; nothing else calls ``tobytes`` or
``frombuffer`` on a vector field.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FLOAT32 = np.dtype("<f4")
FLOAT32_BYTES = FLOAT32.itemsize


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


def vector_bytes(values: npt.ArrayLike) -> bytes:
    """Any array of floats (one vector or many) as packed bytes, unchecked; one copy at most."""
    return np.ascontiguousarray(values, dtype=FLOAT32).tobytes()


def unpack_vectors(data: bytes, rows: int) -> np.ndarray:
    """A read-only (rows, dimension) float32 view over packed bytes; the dimension follows."""
    if rows == 0:
        return np.empty((0, 0), dtype=np.float32)
    return np.frombuffer(data, dtype=FLOAT32).reshape(rows, -1)


def vectors_view(data: bytes, rows: int, dimension: int) -> np.ndarray:
    """A read-only (rows, dimension) float32 view over packed bytes, no copy; rows may be -1."""
    return np.frombuffer(data, dtype=FLOAT32).reshape(rows, dimension)


def vector_view(data: bytes) -> np.ndarray:
    """One packed vector as a read-only 1-D float32 view."""
    return np.frombuffer(data, dtype=FLOAT32)
