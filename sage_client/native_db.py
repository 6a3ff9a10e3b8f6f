"""``SageDB``: an in-process vector database on the native core (``sage_native.Collection``),
with SAGE's sage_db API (integer ids, string metadata, ``QueryResult(id, score, metadata)``).

    db = SageDB(4)                               # or SageDB.from_config(DatabaseConfig(4))
    i = db.add(np.arange(4, dtype=np.float32), {"tag": "demo"})
    db.search([0, 1, 2, 3], k=3)                 # [QueryResult(id=0, score=0.0, ...), ...]

Scores are the core's: squared L2 distance (lower is nearer) for ``L2``, the inner product or
cosine similarity (higher is nearer) otherwise. The data lives in a temporary directory unless
``path`` is given; ``save(path)`` / ``SageDB.load(path)`` persist it.
"""

from __future__ import annotations

import enum
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class IndexType(enum.Enum):
    AUTO = "auto"
    FLAT = "flat"
    IVF_FLAT = "ivf"
    IVF_PQ = "ivf"  # the core's IVF (no product quantisation): the nearest it has
    HNSW = "hnsw"


class DistanceMetric(enum.Enum):
    L2 = "l2"
    INNER_PRODUCT = "ip"
    COSINE = "cosine"


@dataclass
class DatabaseConfig:
    dimension: int
    index_type: IndexType = IndexType.AUTO
    metric: DistanceMetric = DistanceMetric.L2
    anns_algorithm: str = "brute_force"
    nlist: int = 100
    m: int = 8
    nbits: int = 8
    M: int = 16
    efConstruction: int = 200


@dataclass
class SearchParams:
    k: int = 10
    nprobe: int = 1
    radius: float = -1.0
    include_metadata: bool = True


@dataclass
class QueryResult:
    id: int
    score: float
    metadata: dict[str, str] = field(default_factory=dict)


def _enum(kind: type[enum.Enum], value: Any) -> Any:
    if isinstance(value, kind):
        return value
    try:
        return kind[str(value).upper()]
    except KeyError:
        raise ValueError(
            f"{kind.__name__} must be one of {[m.name for m in kind]}, got {value!r}"
        ) from None


def _index_spec(cfg: DatabaseConfig) -> Any:
    index = _enum(IndexType, cfg.index_type)
    if index is IndexType.AUTO:  # SAGE's AUTO: brute force, exact
        return "flat"
    if index is IndexType.HNSW:
        return {"type": "hnsw", "M": cfg.M, "ef_construction": cfg.efConstruction}
    if index in (IndexType.IVF_FLAT, IndexType.IVF_PQ):
        return {"type": "ivf", "nlist": cfg.nlist}
    return "flat"


class SageDB:
    """SAGE's ``SageDB(dimension, index_type=AUTO, metric=L2)`` on the native core."""

    def __init__(
        self,
        dimension: int | DatabaseConfig,
        index_type: IndexType | str = IndexType.AUTO,
        metric: DistanceMetric | str = DistanceMetric.L2,
        *,
        path: str | None = None,
    ) -> None:
        cfg = (
            dimension
            if isinstance(dimension, DatabaseConfig)
            else DatabaseConfig(
                int(dimension), _enum(IndexType, index_type), _enum(DistanceMetric, metric)
            )
        )
        if cfg.dimension < 1:
            raise ValueError(f"dimension must be >= 1, got {cfg.dimension}")
        self.config = cfg
        from sage_native import Collection

        if path is None:
            self._dir: str | None = tempfile.mkdtemp(prefix="sage-db-")
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)
            path = os.path.join(self._dir, "core")
        else:
            self._dir = None
        self._core = (
            Collection.open(path)
            if os.path.exists(os.path.join(path, "MANIFEST")) or _is_collection(path)
            else Collection.create(
                path,
                cfg.dimension,
                _enum(DistanceMetric, cfg.metric).value,
                _index_spec(cfg),
                "none",
            )
        )
        self._path = path
        self._lock = threading.Lock()
        self._next_id = self._core.count()
        self._searches = 0

    @classmethod
    def from_config(cls, config: DatabaseConfig) -> SageDB:
        return cls(config)

    # -- writes ---------------------------------------------------------------------------
    def add(
        self, vector: Sequence[float] | np.ndarray, metadata: Mapping[str, Any] | None = None
    ) -> int:
        return self.add_batch([vector], [metadata or {}])[0]  # type: ignore[list-item]

    def add_batch(
        self,
        vectors: Sequence[Sequence[float]] | np.ndarray,
        metadata_list: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[int]:
        array = np.asarray(vectors, dtype=np.float32).reshape(-1, self.config.dimension)
        metas = list(metadata_list or [{}] * len(array))
        if len(metas) != len(array):
            raise ValueError(f"{len(array)} vectors but {len(metas)} metadata entries")
        with self._lock:
            ids = list(range(self._next_id, self._next_id + len(array)))
            self._next_id += len(array)
        self._core.upsert(
            [str(i) for i in ids], array, [{k: str(v) for k, v in (m or {}).items()} for m in metas]
        )
        return ids

    def update(
        self, vector_id: int, vector: Sequence[float], metadata: Mapping[str, Any] | None = None
    ) -> bool:
        if not self._core.get([str(vector_id)], include=[])["ids"]:
            return False
        self._core.upsert(
            [str(vector_id)], np.asarray([vector], dtype=np.float32), [dict(metadata or {})]
        )
        return True

    def remove(self, vector_id: int) -> bool:
        return bool(self._core.delete(ids=[str(vector_id)]))

    def set_metadata(self, vector_id: int, metadata: Mapping[str, Any]) -> bool:
        got = self._core.get([str(vector_id)], include=["vectors"])
        if not got["ids"]:
            return False
        self._core.upsert(
            [str(vector_id)], np.asarray(got["vectors"], dtype=np.float32), [dict(metadata)]
        )
        return True

    # -- reads ----------------------------------------------------------------------------
    def search(
        self, query: Sequence[float] | np.ndarray, k: int = 10, include_metadata: bool = True
    ) -> list[QueryResult]:
        return self._search(query, k, include_metadata, None)

    def search_with_params(self, query: Sequence[float], params: SearchParams) -> list[QueryResult]:
        return self._search(query, params.k, params.include_metadata, None)

    def search_by_metadata(
        self, query: Sequence[float], params: SearchParams, key: str, value: str
    ) -> list[QueryResult]:
        return self._search(query, params.k, params.include_metadata, {key: str(value)})

    def filtered_search(
        self,
        query: Sequence[float],
        params: SearchParams,
        filter_fn: Callable[[dict[str, str]], bool],
    ) -> list[QueryResult]:
        """Over-fetches and keeps the hits whose metadata ``filter_fn`` accepts."""
        wanted, fetch = params.k, max(params.k * 4, 16)
        while True:
            hits = self._search(query, fetch, True, None)
            kept = [h for h in hits if filter_fn(h.metadata)]
            if len(kept) >= wanted or len(hits) < fetch:
                return kept[:wanted]
            fetch *= 4

    def batch_search(
        self, queries: Sequence[Sequence[float]], params: SearchParams
    ) -> list[list[QueryResult]]:
        return [self.search_with_params(q, params) for q in queries]

    def _search(
        self, query: Any, k: int, include_metadata: bool, where: dict[str, str] | None
    ) -> list[QueryResult]:
        q = np.asarray(query, dtype=np.float32).reshape(1, self.config.dimension)
        include = ["metadatas"] if include_metadata else []
        hits = self._core.search(q, int(k), where=where, include=include)
        self._searches += 1
        metas = hits.get("metadatas", [[{}] * len(hits["ids"][0])])[0]
        return [
            QueryResult(int(i), float(s), dict(m or {}))
            for i, s, m in zip(hits["ids"][0], hits["scores"][0], metas, strict=True)
        ]

    def get_metadata(self, vector_id: int) -> dict[str, str] | None:
        got = self._core.get([str(vector_id)], include=["metadatas"])
        return dict(got["metadatas"][0]) if got["ids"] else None

    def find_by_metadata(self, key: str, value: str) -> list[int]:
        return [int(i) for i in self._core.get(where={key: str(value)}, include=[])["ids"]]

    # -- index and persistence ---------------------------------------------------------
    def build_index(self) -> None:
        self._core.flush()

    def train_index(self, vectors: Any = None) -> None:
        self._core.flush()

    def is_trained(self) -> bool:
        return bool(self._core.stats().get("index_trained", True))

    def save(self, path: str) -> None:
        """Copy the database to ``path`` (a directory SageDB.load opens)."""
        self._core.snapshot()
        if os.path.abspath(path) != os.path.abspath(self._path):
            shutil.copytree(self._path, path, dirs_exist_ok=True)

    @classmethod
    def load(cls, path: str) -> SageDB:
        from sage_native import Collection

        stats = Collection.open(path)
        dim = int(stats.stats()["dim"])
        stats.close()
        return cls(dim, path=path)

    @property
    def size(self) -> int:
        return int(self._core.count())

    @property
    def dimension(self) -> int:
        return self.config.dimension

    @property
    def index_type(self) -> IndexType:
        return _enum(IndexType, self.config.index_type)

    def get_search_stats(self) -> dict[str, Any]:
        return {"searches": self._searches, **self._core.stats()}

    def close(self) -> None:
        self._core.close()


def _is_collection(path: str) -> bool:
    return os.path.isdir(path) and bool(os.listdir(path))


class SageDBService:
    """SAGE's ``SageDBService(dimension=4, index_type="AUTO")``: the same database as a
    service (``add``, ``add_batch``, ``search`` -> ``[{"id", "score", "metadata"}]``, ``stats``)."""

    thread_safe = False

    def __init__(self, dimension: int = 4, index_type: str = "AUTO", metric: str = "L2") -> None:
        self._db = SageDB(dimension, index_type, metric)

    def add(self, vector: Sequence[float], metadata: Mapping[str, Any] | None = None) -> int:
        return self._db.add(vector, metadata)

    def add_batch(
        self, vectors: Any, metadata_list: Sequence[Mapping[str, Any]] | None = None
    ) -> list[int]:
        return self._db.add_batch(vectors, metadata_list)

    def search(
        self, query: Sequence[float], k: int = 5, include_metadata: bool = True
    ) -> list[dict[str, Any]]:
        return [
            {"id": r.id, "score": r.score, "metadata": r.metadata}
            for r in self._db.search(query, k, include_metadata)
        ]

    def stats(self) -> dict[str, Any]:
        return {
            "size": self._db.size,
            "dimension": self._db.dimension,
            "index_type": self._db.index_type.name,
        }

    def close(self) -> None:
        self._db.close()
