"""``MultimodalSageDB``: items with one embedding per modality (text, image, audio, ...), searched
by a fused score, on the native core — SAGE's ``sage_db.python.multimodal_sage_db`` API.

    db = create_text_image_db()
    i = db.add_from_embeddings({ModalityType.TEXT: t, ModalityType.IMAGE: v}, {"label": "a"})
    db.search_multimodal({ModalityType.TEXT: q}, MultimodalSearchParams(k=3))

Each modality has its own native collection (cosine similarity; its own dimension, fixed by the
first embedding of that modality), keyed by the item's id. A search takes candidates from each
queried modality's index (``CANDIDATES_PER_K`` x k, at least ``MIN_CANDIDATES``), then scores
each candidate exactly from its stored vectors:

- ``WEIGHTED_AVERAGE``: sum of ``w_m * cos_m`` over the query's modalities the item has, divided
  by the sum of those ``w_m`` (the weights of the database's ``FusionParams``, changed by
  ``update_fusion_params``; a modality without a weight counts 1.0);
- ``CONCATENATION``: the same with equal weights (the cosine of the concatenated unit vectors).

Other strategies (attention, transformer, tensor fusion, bilinear pooling) need learned models
and are refused by name. ``cross_modal_search`` ranks by the query's modality and keeps items
that have one of the target modalities (modalities of different dimensions share no space).
"""

from __future__ import annotations

import enum
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from sage_client.native_db import DatabaseConfig, IndexType, QueryResult, _enum, _index_spec

CANDIDATES_PER_K = 10
MIN_CANDIDATES = 100


class ModalityType(enum.Enum):
    TEXT = 0
    IMAGE = 1
    AUDIO = 2
    VIDEO = 3
    TABULAR = 4
    TIME_SERIES = 5
    CUSTOM = 6


class FusionStrategy(enum.Enum):
    CONCATENATION = 0
    WEIGHTED_AVERAGE = 1
    ATTENTION_BASED = 2
    CROSS_MODAL_TRANSFORMER = 3
    TENSOR_FUSION = 4
    BILINEAR_POOLING = 5
    CUSTOM = 6


SUPPORTED_STRATEGIES = (FusionStrategy.WEIGHTED_AVERAGE, FusionStrategy.CONCATENATION)


class ModalData:
    """One modality of an item: its type, embedding, metadata and optional raw bytes."""

    def __init__(
        self,
        modality_type: ModalityType,
        embedding: Any,
        metadata: Mapping[str, str] | None = None,
        raw_data: bytes | None = None,
    ) -> None:
        self.type = modality_type
        self.embedding = np.asarray(embedding, dtype=np.float32)
        self.metadata = dict(metadata or {})
        self.raw_data = raw_data


class MultimodalData:
    """An item: its modalities and its metadata (``global_metadata``)."""

    def __init__(self, data_id: int = 0) -> None:
        self.id = data_id
        self.modalities: dict[ModalityType, ModalData] = {}
        self.fused_embedding: np.ndarray | None = None
        self.global_metadata: dict[str, Any] = {}

    def add_modality(self, modal_data: ModalData) -> None:
        self.modalities[modal_data.type] = modal_data

    def get_modality(self, modality_type: ModalityType) -> ModalData | None:
        return self.modalities.get(modality_type)


class FusionParams:
    def __init__(self, strategy: FusionStrategy = FusionStrategy.WEIGHTED_AVERAGE) -> None:
        self.strategy = strategy
        self.modality_weights: dict[ModalityType, float] = {
            ModalityType.TEXT: 0.4,
            ModalityType.IMAGE: 0.3,
            ModalityType.AUDIO: 0.2,
            ModalityType.VIDEO: 0.1,
        }
        self.target_dimension = 512
        self.custom_params: dict[str, float] = {}


class MultimodalSearchParams:
    def __init__(self, k: int = 10) -> None:
        self.k = k
        self.target_modalities: list[ModalityType] = []
        self.use_cross_modal_search = False
        self.query_fusion_params = FusionParams()
        self.include_metadata = True


class _ModalityIndex:
    """One modality's native collection (cosine) and its running statistics."""

    def __init__(self, root: str, modality: ModalityType, dim: int, index: Any) -> None:
        from sage_native import Collection

        self.dim = dim
        self.core = Collection.create(
            os.path.join(root, modality.name.lower()), dim, "cosine", index, "none"
        )
        self.count = 0
        self.norm_sum = 0.0

    def add(self, item_id: int, vector: np.ndarray) -> None:
        self.core.upsert([str(item_id)], vector.reshape(1, -1), [{}])
        self.count += 1
        self.norm_sum += float(np.linalg.norm(vector))

    def candidates(self, query: np.ndarray, k: int) -> list[int]:
        hits = self.core.search(query.reshape(1, -1), int(k), include=[])
        return [int(i) for i in hits["ids"][0]]

    def cosines(self, query: np.ndarray, ids: list[int]) -> dict[int, float]:
        got = self.core.get([str(i) for i in ids], include=["vectors"])
        if not got["ids"]:
            return {}
        vectors = np.asarray(got["vectors"], dtype=np.float32)
        unit = query / np.linalg.norm(query)
        scores = vectors @ unit / np.linalg.norm(vectors, axis=1)
        return {int(i): float(s) for i, s in zip(got["ids"], scores, strict=True)}


def _checked(modality: Any, embedding: Any) -> tuple[ModalityType, np.ndarray]:
    if not isinstance(modality, ModalityType):
        raise TypeError(f"modalities are ModalityType members, got {modality!r}")
    vector = np.asarray(embedding, dtype=np.float32)
    if vector.ndim != 1 or vector.size == 0:
        raise ValueError(f"the {modality.name} embedding must be one non-empty vector")
    if not np.all(np.isfinite(vector)) or not np.any(vector):
        raise ValueError(f"the {modality.name} embedding must be finite and not all zeros")
    return modality, vector


class MultimodalSageDB:
    """SAGE's ``MultimodalSageDB(config)``: ``dimension`` (the fused target size),
    ``index_type`` (per modality), ``fusion_strategy`` (a FusionStrategy value),
    ``max_modalities_per_item``."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        self.dimension = int(self.config.get("dimension", 512))
        self.fusion_params = FusionParams(FusionStrategy(self.config.get("fusion_strategy", 1)))
        self.max_modalities = int(self.config.get("max_modalities_per_item", len(ModalityType)))
        self._index = _index_spec(
            DatabaseConfig(1, _enum(IndexType, self.config.get("index_type", "AUTO")))
        )
        self._root = tempfile.mkdtemp(prefix="sage-multimodal-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._root, True)
        self._modalities: dict[ModalityType, _ModalityIndex] = {}
        self._items: dict[int, tuple[frozenset[ModalityType], dict[str, Any]]] = {}
        self._next_id = 1
        self._lock = threading.Lock()
        self._db = self._modalities  # in the native core: SAGE's "C++ accelerated" check

    # -- writes ---------------------------------------------------------------------------
    def add_multimodal(self, data: MultimodalData) -> int:
        checked = [_checked(m, d.embedding) for m, d in data.modalities.items()]
        if not checked:
            raise ValueError("an item needs at least one modality")
        if len(checked) > self.max_modalities:
            raise ValueError(
                f"an item may have at most {self.max_modalities} modalities "
                f"(max_modalities_per_item), got {len(checked)}"
            )
        with self._lock:
            for modality, vector in checked:  # every check before any write
                index = self._modalities.get(modality)
                if index is not None and index.dim != vector.size:
                    raise ValueError(
                        f"{modality.name} embeddings in this database have {index.dim} "
                        f"dimensions, got {vector.size}"
                    )
            item_id = self._next_id
            self._next_id += 1
            for modality, vector in checked:
                if modality not in self._modalities:
                    self._modalities[modality] = _ModalityIndex(
                        self._root, modality, vector.size, self._index
                    )
                self._modalities[modality].add(item_id, vector)
            self._items[item_id] = (frozenset(m for m, _ in checked), dict(data.global_metadata))
        data.id = item_id
        return item_id

    def add_from_embeddings(
        self, embeddings: Mapping[ModalityType, Any], metadata: Mapping[str, Any] | None = None
    ) -> int:
        data = MultimodalData()
        data.global_metadata = dict(metadata or {})
        for modality, embedding in embeddings.items():
            data.add_modality(ModalData(modality, embedding))
        return self.add_multimodal(data)

    def update_fusion_params(self, params: FusionParams) -> None:
        self.fusion_params = params

    # -- reads ----------------------------------------------------------------------------
    def search_multimodal(
        self, query_modalities: Mapping[ModalityType, Any], params: MultimodalSearchParams
    ) -> list[QueryResult]:
        if params.k < 1:
            raise ValueError(f"k must be >= 1, got {params.k}")
        strategy = self.fusion_params.strategy
        if strategy not in SUPPORTED_STRATEGIES:
            raise ValueError(
                f"fusion strategy {strategy.name} is not supported (it needs a learned model); "
                f"use one of {[s.name for s in SUPPORTED_STRATEGIES]}"
            )
        queries = dict(_checked(m, e) for m, e in query_modalities.items())
        fetch = max(params.k * CANDIDATES_PER_K, MIN_CANDIDATES)
        with self._lock:
            present = {m: q for m, q in queries.items() if m in self._modalities}
            for modality, query in present.items():
                if query.size != self._modalities[modality].dim:
                    raise ValueError(
                        f"the {modality.name} query has {query.size} dimensions; this "
                        f"database's {modality.name} embeddings have "
                        f"{self._modalities[modality].dim}"
                    )
            ids = sorted(
                {i for m, q in present.items() for i in self._modalities[m].candidates(q, fetch)}
            )
            cosines = {m: self._modalities[m].cosines(q, ids) for m, q in present.items()}
            items = {i: self._items[i] for i in ids}
        results = []
        for item_id, (modalities, metadata) in items.items():
            shared = [m for m in present if m in modalities]
            weights = [self._weight(m) for m in shared]
            total = sum(weights)
            if not shared or total <= 0:
                continue
            score = sum(w * cosines[m][item_id] for w, m in zip(weights, shared, strict=True))
            meta = dict(metadata) if params.include_metadata else {}
            results.append(QueryResult(item_id, score / total, meta))
        results.sort(key=lambda r: (-r.score, r.id))
        return results[: params.k]

    def cross_modal_search(
        self,
        query_modality: ModalityType,
        query_embedding: Any,
        target_modalities: list[ModalityType],
        params: MultimodalSearchParams,
    ) -> list[QueryResult]:
        ranked = self.search_multimodal({query_modality: query_embedding}, params)
        wanted = set(target_modalities)
        return [r for r in ranked if wanted & self._items[r.id][0]]

    def get_modality_statistics(self) -> dict[ModalityType, dict[str, Any]]:
        with self._lock:
            return {
                modality: {
                    "count": index.count,
                    "avg_dimension": float(index.dim),
                    "avg_norm": index.norm_sum / index.count,
                }
                for modality, index in sorted(self._modalities.items(), key=lambda kv: kv[0].value)
                if index.count
            }

    @property
    def size(self) -> int:
        return len(self._items)

    def _weight(self, modality: ModalityType) -> float:
        if self.fusion_params.strategy is FusionStrategy.CONCATENATION:
            return 1.0
        return float(self.fusion_params.modality_weights.get(modality, 1.0))

    def close(self) -> None:
        for index in self._modalities.values():
            index.core.close()


def _preset(
    dimension: int, index_type: str, strategy: FusionStrategy, max_modalities: int
) -> MultimodalSageDB:
    return MultimodalSageDB(
        {
            "dimension": dimension,
            "index_type": index_type,
            "fusion_strategy": strategy.value,
            "enable_modality_indexing": True,
            "max_modalities_per_item": max_modalities,
        }
    )


def create_text_image_db(dimension: int = 512, index_type: str = "IVF_FLAT") -> MultimodalSageDB:
    return _preset(dimension, index_type, FusionStrategy.WEIGHTED_AVERAGE, 2)


def create_audio_visual_db(dimension: int = 1024, index_type: str = "IVF_FLAT") -> MultimodalSageDB:
    return _preset(dimension, index_type, FusionStrategy.ATTENTION_BASED, 3)
