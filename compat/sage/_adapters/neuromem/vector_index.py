"""One named vector index of a neuromem collection: a ``sage_native.Collection`` (inner product
over unit vectors, so a score is a cosine similarity in [-1, 1]) keyed by the items' ids."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import numpy as np

_INDEX_KINDS = {"faiss": "flat", "flat": "flat", "hnsw": "hnsw", "ivf": "ivf"}


def unit(vector: Any, dim: int | None = None) -> np.ndarray:
    """``vector`` as float32, L2-normalised (what neuromem does before indexing)."""
    if hasattr(vector, "detach") and hasattr(vector, "cpu"):
        vector = vector.detach().cpu().numpy()
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    if dim is not None and array.shape[0] != dim:
        raise ValueError(f"the index holds vectors of dimension {dim}, got {array.shape[0]}")
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


class VectorIndex:
    """``insert(vector, id)``, ``batch_insert(vectors, ids)``, ``delete(id)``,
    ``search(vector, topk, threshold) -> (ids, scores)``."""

    def __init__(self, name: str, dim: int, backend_type: str | None = "FAISS") -> None:
        from sage_native import Collection

        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"index {name!r}: 'dim' must be a positive int, got {dim!r}")
        self.name, self.dim = name, dim
        kind = _INDEX_KINDS.get(str(backend_type or "FAISS").lower(), "flat")
        self._dir = tempfile.mkdtemp(prefix="sage-neuromem-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)
        self._core = Collection.create(str(Path(self._dir) / "core"), dim, "ip", kind, "none")

    def insert(self, vector: Any, item_id: str) -> None:
        self.batch_insert([vector], [item_id])

    def batch_insert(self, vectors: Any, ids: list[str]) -> int:
        rows = [unit(v, self.dim) for v in vectors]
        if len(rows) != len(ids):
            raise ValueError(f"{len(rows)} vectors but {len(ids)} ids")
        if rows:
            self._core.upsert([str(i) for i in ids], np.stack(rows))
        return len(rows)

    def delete(self, item_id: str) -> bool:
        return bool(self._core.delete(ids=[str(item_id)]))

    def search(
        self, vector: Any, topk: int = 5, threshold: float | None = None
    ) -> tuple[list[str], list[float]]:
        if self.count == 0:
            return [], []
        hits = self._core.search(unit(vector, self.dim).reshape(1, -1), int(topk), include=[])
        pairs = [
            (str(i), float(s)) for i, s in zip(hits["ids"][0], hits["scores"][0], strict=False)
        ]
        if threshold is not None:
            pairs = [(i, s) for i, s in pairs if s >= threshold]
        return [i for i, _ in pairs], [s for _, s in pairs]

    @property
    def count(self) -> int:
        return int(self._core.count())

    def ids(self) -> list[str]:
        return [str(i) for i in self._core.get(include=[])["ids"]]

    # -- persistence: ids + vectors; the core is rebuilt on load ----------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        got = self._core.get(include=["vectors"])
        vectors = np.asarray(got.get("vectors", np.zeros((0, self.dim))), dtype=np.float32)
        np.save(folder / f"{self.name}.npy", vectors.reshape(-1, self.dim))
        (folder / f"{self.name}.ids").write_text("\n".join(str(i) for i in got["ids"]))

    def load(self, folder: Path) -> None:
        path = folder / f"{self.name}.npy"
        if not path.is_file():
            return
        vectors = np.load(path)
        ids = [i for i in (folder / f"{self.name}.ids").read_text().split("\n") if i]
        self.batch_insert(list(vectors), ids)
