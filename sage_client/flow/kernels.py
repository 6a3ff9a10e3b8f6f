"""The vector operators on whole windows, run by the native core (``sage_native.flow``).

Each takes contiguous float32 (n, dim) arrays, releases the GIL and runs on OpenMP threads
(``threads=0``: OpenMP's default). Brute-force joins are exact: float32 results, computed on
AMX bf16 tiles where the CPU has them with every pair that could reach the answer re-scored in
float32 (see docs/flow.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

import sage_native

METRICS = ("cosine", "ip", "l2")
_flow = sage_native.flow


def _matrix(x: Any, what: str) -> np.ndarray:
    array = np.ascontiguousarray(x, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (rows, dim), got shape {array.shape}")
    return array


def _pair(left: Any, right: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = _matrix(left, "left"), _matrix(right, "right")
    if a.shape[1] != b.shape[1] and len(a) and len(b):
        raise ValueError(
            f"dimension mismatch: left vectors have dimension {a.shape[1]}, "
            f"right vectors have dimension {b.shape[1]}"
        )
    if a.shape[1] != b.shape[1]:  # one side empty: give it the other's width
        width = max(a.shape[1], b.shape[1])
        a = a if len(a) else np.empty((0, width), np.float32)
        b = b if len(b) else np.empty((0, width), np.float32)
    return a, b


def _metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return metric


def knn_join(
    left: Any, right: Any, k: int = 10, metric: str = "cosine", threads: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of each left row among the right rows: ``(labels, scores)``, both (n, k);
    label -1 (score NaN) where the right side has fewer than k rows."""
    a, b = _pair(left, right)
    if a.shape[1] == 0 or (len(a) == 0 or len(b) == 0):
        return np.full((len(a), k), -1, np.int64), np.full((len(a), k), np.nan, np.float32)
    return _flow.knn_join(a, b, k=int(k), metric=_metric(metric), threads=threads)


def range_join(
    left: Any, right: Any, threshold: float, metric: str = "cosine", threads: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair within ``threshold`` (similarity >= t; squared L2 <= t): ``(left_rows,
    right_rows, scores)``, by left row then best first."""
    a, b = _pair(left, right)
    if len(a) == 0 or len(b) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    return _flow.range_join(a, b, float(threshold), metric=_metric(metric), threads=threads)


def index_join(
    left: Any,
    right: Any,
    k: int = 10,
    metric: str = "cosine",
    index: dict[str, Any] | None = None,
    threads: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate top-k through an HNSW index built on the right rows (``index``: type
    "hnsw" | "flat", M, ef_construction, ef_search)."""
    a, b = _pair(left, right)
    if len(a) == 0 or len(b) == 0:
        return np.full((len(a), k), -1, np.int64), np.full((len(a), k), np.nan, np.float32)
    spec = {"type": "hnsw", **(index or {})}
    return _flow.index_join(a, b, k=int(k), metric=_metric(metric), index=spec, threads=threads)


def centroid(vectors: Any) -> np.ndarray:
    """Mean of the rows (float32 [dim])."""
    return _flow.centroid(_matrix(vectors, "vectors"))


def isa() -> str:
    """What the exact joins run on: "amx-bf16", "avx2" or "scalar"."""
    return str(_flow.isa())
