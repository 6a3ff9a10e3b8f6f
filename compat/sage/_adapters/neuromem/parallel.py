"""SAGE's ``ParallelVDBService`` / ``parallel_insert_to_vdb``
(``sage.middleware.components.sage_mem.services``): texts embedded in parallel batches
(``sage_client``'s ``EmbeddingService``, with its cache), stored into a ``VDBMemoryCollection``
one batch at a time (the collection stays single-threaded)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sage._adapters.neuromem.vdb import VDBMemoryCollection


@dataclass
class ParallelInsertResult:
    total_texts: int = 0
    total_inserted: int = 0
    total_failed: int = 0
    elapsed_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    inserted_ids: list[str] = field(default_factory=list)

    @property
    def throughput_per_second(self) -> float:
        return self.total_inserted / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0


class ParallelVDBService:
    def __init__(
        self,
        collection: VDBMemoryCollection,
        embedding_config: Mapping[str, Any] | None = None,
        max_workers: int = 4,
        default_batch_size: int = 100,
    ) -> None:
        if max_workers < 1 or default_batch_size < 1:
            raise ValueError("max_workers and default_batch_size must be >= 1")
        self.collection = collection
        self.embedding_config = dict(embedding_config or {"method": "mockembedder"})
        self.max_workers = int(max_workers)
        self.default_batch_size = int(default_batch_size)
        self._embedder: Any = None
        self._lock = threading.Lock()

    def setup(self) -> None:
        from sage_client.llm.embedding_models import EmbeddingService

        self._embedder = EmbeddingService(self.embedding_config)
        self._embedder.setup()

    def cleanup(self) -> None:
        if self._embedder is not None:
            self._embedder.cleanup()
            self._embedder = None

    def parallel_batch_insert(
        self,
        texts: Sequence[str],
        index_name: str,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        batch_size: int | None = None,
        show_progress: bool = False,
    ) -> ParallelInsertResult:
        """Embed ``texts`` in batches on ``max_workers`` threads and insert every batch; a
        failed batch is counted (and its error kept), the others still go in."""
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(metadatas)} metadata entries")
        self.collection._info(index_name)  # an unknown index fails before any work
        if self._embedder is None:
            self.setup()
        size = int(batch_size or self.default_batch_size)
        batches = [range(i, min(i + size, len(texts))) for i in range(0, len(texts), size)]
        result = ParallelInsertResult(total_texts=len(texts))
        started = time.perf_counter()

        def run(rows: range) -> None:
            try:
                vectors = self._embedder.embed([texts[i] for i in rows])["vectors"]
                with self._lock:
                    for i, vector in zip(rows, vectors, strict=True):
                        meta = metadatas[i] if metadatas is not None else None
                        result.inserted_ids.append(
                            self.collection.insert(index_name, texts[i], vector, meta)
                        )
                        result.total_inserted += 1
            except Exception as exc:  # noqa: BLE001 - counted per batch, as SAGE reports it
                with self._lock:
                    result.total_failed += len(rows)
                    result.errors.append(f"batch {rows.start}-{rows.stop - 1}: {exc}")
            if show_progress:
                with self._lock:
                    print(f"  inserted {result.total_inserted}/{len(texts)}", flush=True)

        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            list(pool.map(run, batches))
        result.elapsed_seconds = time.perf_counter() - started
        return result


def parallel_insert_to_vdb(
    texts: Sequence[str],
    collection: VDBMemoryCollection,
    index_name: str,
    embedding_config: Mapping[str, Any] | None = None,
    max_workers: int = 4,
    batch_size: int = 100,
    metadatas: Sequence[Mapping[str, Any] | None] | None = None,
) -> ParallelInsertResult:
    service = ParallelVDBService(collection, embedding_config, max_workers, batch_size)
    service.setup()
    try:
        return service.parallel_batch_insert(texts, index_name, metadatas, batch_size)
    finally:
        service.cleanup()
