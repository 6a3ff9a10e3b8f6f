"""The records of vector streams: one ``VectorRecord`` per event, ``VectorBatch`` per window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sage_client.dataflow.api.windows import Window


def as_vector(vector: Any, what: str = "vector") -> np.ndarray:
    """A 1-D float32 array (a copy only when the input is not one already)."""
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"{what} must be a non-empty 1-D sequence of numbers, got shape {array.shape}"
        )
    return array


@dataclass
class VectorRecord:
    """One event of a vector stream: ``(uid, timestamp, vector)`` plus an optional payload."""

    uid: Any
    timestamp: float
    vector: Any  # any 1-D sequence of numbers; a float32 ndarray after __post_init__
    payload: Any = None

    def __post_init__(self) -> None:
        self.vector = as_vector(self.vector, f"vector of record {self.uid!r}")
        self.timestamp = float(self.timestamp)

    @property
    def dim(self) -> int:
        return int(self.vector.shape[0])


@dataclass
class VectorBatch:
    """A window's records as columns: ``vectors`` is one contiguous float32 (n, dim) array."""

    uids: list[Any]
    timestamps: np.ndarray
    vectors: np.ndarray
    payloads: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, records: Sequence[VectorRecord], dim: int | None = None) -> VectorBatch:
        """Stack records; every vector must have ``dim`` (or the first record's) dimensions."""
        if not records:
            return cls([], np.empty(0), np.empty((0, dim or 0), dtype=np.float32), [])
        want = dim if dim is not None else records[0].dim
        bad = next((r for r in records if r.dim != want), None)
        if bad is not None:
            raise ValueError(
                f"dimension mismatch: record {bad.uid!r} has dimension {bad.dim}, "
                f"the stream's vectors have dimension {want}"
            )
        vectors = np.stack([r.vector for r in records])
        return cls(
            [r.uid for r in records],
            np.fromiter((r.timestamp for r in records), dtype=np.float64, count=len(records)),
            vectors,
            [r.payload for r in records],
        )

    def __len__(self) -> int:
        return len(self.uids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass(frozen=True)
class JoinMatch:
    """A pair of a similarity join: ``score`` is a similarity (ip, cosine) or squared L2."""

    left: Any
    right: Any
    score: float
    window: Window | None = None


@dataclass(frozen=True)
class Neighbours:
    """The top-k of one record: ids and scores best first (and the hits' documents if asked)."""

    uid: Any
    ids: list[Any]
    scores: list[float]
    documents: list[Any] | None = None
    payload: Any = None
    window: Window | None = None
    metadatas: list[Any] | None = None


@dataclass(frozen=True)
class WindowAggregate:
    """Per window: how many records, and the mean of their vectors."""

    key: Any
    window: Window
    count: int
    centroid: np.ndarray
