"""Retrievers: a question in, the same record with ``results`` (top-k chunks) out.

``DenseRetriever`` embeds the question and searches vectors, ``BM25Retriever`` searches the
BM25 text index, ``HybridRetriever`` fuses both (reciprocal rank fusion by default). All three
work on a ``sage_native.Collection`` (config ``collection`` or ``path``), shared per process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from sage_client.dataflow.api.functions import MapFunction
from sage_client.rag.records import Record, add_timing, as_record
from sage_client.rag.store import embedder_for, resolve_collection

_COMMON_KEYS = {"collection", "path", "vdb", "top_k", "where", "embedder", "mesh"}


def hits_to_results(hits: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The first query's hits as result dicts (the native core answers per query)."""
    ids = hits["ids"][0]
    scores = np.asarray(hits["scores"])[0]
    metas = hits.get("metadatas", [[{}] * len(ids)])[0]
    docs = hits.get("documents", [[None] * len(ids)])[0]
    out = []
    for i, chunk_id in enumerate(ids):
        meta = dict(metas[i] or {})
        score = float(scores[i])
        out.append(
            {
                "id": chunk_id,
                "text": docs[i] or "",
                "source": str(meta.pop("source", chunk_id.rsplit("#", 1)[0])),
                "position": int(meta.pop("position", 0)),
                "score": score if not math.isnan(score) else 0.0,
                "metadata": meta,
            }
        )
    return out


class _Retriever(MapFunction):
    extra_keys: frozenset[str] = frozenset()
    stage = "retrieve"

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = {**(config or {}), **kwargs}
        unknown = set(self.config) - _COMMON_KEYS - self.extra_keys
        if unknown:
            raise ValueError(
                f"unknown {type(self).__name__} option(s) {sorted(unknown)}; known: {sorted(_COMMON_KEYS | self.extra_keys)}"
            )
        self.top_k = int(self.config.get("top_k", 5))
        if self.top_k <= 0:
            raise ValueError(f"top_k must be positive, got {self.top_k}")
        self.where = self.config.get("where")
        self._collection: Any = None

    def open(self) -> None:
        self._collection = resolve_collection(self.config)

    def execute(self, data: Any) -> Record:
        record = as_record(data)
        if self._collection is None:
            self.open()
        t0 = time.perf_counter()
        record["results"] = self.retrieve(record["query"])
        add_timing(record, self.stage, time.perf_counter() - t0)
        return record

    def retrieve(self, query: str) -> list[dict[str, Any]]:
        raise NotImplementedError


class DenseRetriever(_Retriever):
    """Nearest chunks by embedding (all-MiniLM-L6-v2 unless ``embedder`` is given)."""

    def open(self) -> None:
        super().open()
        self._embedder = embedder_for(self.config)

    def retrieve(self, query: str) -> list[dict[str, Any]]:
        vector = self._embedder.embed([query])
        return hits_to_results(self._collection.search(vector, k=self.top_k, where=self.where))


class BM25Retriever(_Retriever):
    """Best chunks by BM25 over their words (k1 = 1.2, b = 0.75)."""

    def retrieve(self, query: str) -> list[dict[str, Any]]:
        return hits_to_results(
            self._collection.search_text([query], k=self.top_k, where=self.where)
        )


class HybridRetriever(_Retriever):
    """Dense and BM25 candidates fused: ``fusion="rrf"`` (sum of 1/(60 + rank)) or
    ``"weighted"`` (``alpha``·dense + (1 − alpha)·BM25 after min-max normalisation)."""

    extra_keys = frozenset({"fusion", "alpha"})

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.fusion = str(self.config.get("fusion", "rrf"))
        if self.fusion not in ("rrf", "weighted"):
            raise ValueError(f"fusion must be 'rrf' or 'weighted', got {self.fusion!r}")
        self.alpha = float(self.config.get("alpha", 0.5))
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be within [0, 1], got {self.alpha}")

    def open(self) -> None:
        super().open()
        self._embedder = embedder_for(self.config)

    def retrieve(self, query: str) -> list[dict[str, Any]]:
        vector = self._embedder.embed([query])
        hits = self._collection.hybrid_search(
            vector, [query], k=self.top_k, fusion=self.fusion, alpha=self.alpha, where=self.where
        )
        return hits_to_results(hits)
