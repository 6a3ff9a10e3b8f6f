"""ChunkIndexer: the ingestion pipeline's sink — embeds chunks in batches and upserts them.

Embedding one chunk at a time would run the model once per record; the sink buffers
``batch_size`` chunks and embeds them together (sorted by length inside the embedder).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from sage_client.dataflow.api.functions import SinkFunction
from sage_client.rag.store import embedder_for, resolve_collection

_METADATA_SCALARS = (str, int, float, bool)


def _clean_metadata(chunk: Mapping[str, Any]) -> dict[str, Any]:
    # The native store keeps str/int/float/bool/list[str]; other values stay in the chunk only.
    meta = {
        k: v
        for k, v in dict(chunk.get("metadata") or {}).items()
        if isinstance(v, _METADATA_SCALARS)
    }
    meta.update(source=str(chunk["source"]), position=int(chunk["position"]))
    meta.update(start=int(chunk.get("start", 0)), end=int(chunk.get("end", 0)))
    return meta


def index_chunks(collection: Any, embedder: Any, chunks: list[Mapping[str, Any]]) -> int:
    """Embed and upsert ``chunks``; returns how many were written."""
    if not chunks:
        return 0
    texts = [str(c["text"]) for c in chunks]
    vectors = np.ascontiguousarray(embedder.embed(texts), dtype=np.float32)
    collection.upsert(
        [str(c["id"]) for c in chunks],
        vectors,
        metadatas=[_clean_metadata(c) for c in chunks],
        documents=texts,
    )
    return len(chunks)


class ChunkIndexer(SinkFunction):
    """Config: ``collection`` or ``path``; ``embedder`` or ``mesh``; ``batch_size`` (64);
    ``on_batch`` (called with the number written, e.g. to advance a progress bar)."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = {**(config or {}), **kwargs}
        self.batch_size = int(self.config.get("batch_size", 64))
        if self.batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        self.on_batch: Callable[[int], None] | None = self.config.get("on_batch")
        self._buffer: list[Mapping[str, Any]] = []
        self.written = 0
        self._collection: Any = None
        self._embedder: Any = None

    def open(self) -> None:
        self._collection = resolve_collection(self.config)
        self._embedder = embedder_for(self.config)

    def execute(self, data: Mapping[str, Any]) -> None:
        if self._collection is None:
            self.open()
        self._buffer.append(data)
        if len(self._buffer) >= self.batch_size:
            self._flush()

    def close(self) -> None:
        if self._collection is None and self._buffer:
            self.open()
        self._flush()

    def _flush(self) -> None:
        n = index_chunks(self._collection, self._embedder, self._buffer)
        self._buffer = []
        self.written += n
        if n and self.on_batch is not None:
            self.on_batch(n)
