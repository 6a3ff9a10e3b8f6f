"""Where chunks live: a ``sage_native.Collection`` opened once per process and path.

A collection directory can be open only once (the native core takes a lock), while a pipeline
creates one retriever per parallel instance and the ingestion sink is another operator; they all
share the object returned by ``open_collection``. Operators take either such an object or a path.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sage_client.codec.embedding import EMBEDDING_DIMENSION

EMBEDDING_DIM = EMBEDDING_DIMENSION  # all-MiniLM-L6-v2

_lock = threading.Lock()
_open: dict[str, Any] = {}


def open_collection(path: str | Path, dim: int = EMBEDDING_DIM, metric: str = "cosine") -> Any:
    """The collection at ``path``, created (flat cosine index, no fsync: it is rebuilt from the
    documents) when absent. The same object for every caller in this process."""
    import sage_native

    key = str(Path(path).resolve())
    with _lock:
        col = _open.get(key)
        if col is not None:
            return col
        p = Path(key)
        if (p / "collection.cfg").exists():
            col = sage_native.Collection.open(key)
        else:
            col = sage_native.Collection.create(
                key, dim=dim, metric=metric, index="flat", fsync="none"
            )
        _open[key] = col
        return col


def close_collection(path: str | Path) -> None:
    key = str(Path(path).resolve())
    with _lock:
        col = _open.pop(key, None)
    if col is not None:
        col.close()


class VDBCollection:
    """One collection of the mesh's VDB service behind the ``sage_native.Collection`` calls the
    operators use (upsert, search, search_text, hybrid_search), so the same pipeline runs on
    either store."""

    def __init__(self, client: Any, name: str, dim: int = EMBEDDING_DIM) -> None:
        self.client = client
        self.name = name
        names = {c.name for c in client.list_collections()}
        if name not in names:
            client.create_collection(name, dim, metric="cosine", index="flat")

    def upsert(self, ids: Any, vectors: Any, metadatas: Any = None, documents: Any = None) -> None:
        self.client.upsert(self.name, list(ids), vectors, metadatas=metadatas, documents=documents)

    @staticmethod
    def _hits(results: Any) -> dict[str, Any]:
        import numpy as np

        width = max((len(r.ids) for r in results), default=0)
        scores = np.full((len(results), width), np.nan, dtype=np.float32)
        for i, r in enumerate(results):
            scores[i, : len(r.scores)] = r.scores
        return {
            "ids": [list(r.ids) for r in results],
            "scores": scores,
            "metadatas": [list(r.metadatas or [{}] * len(r.ids)) for r in results],
            "documents": [list(r.documents or [None] * len(r.ids)) for r in results],
        }

    def search(self, queries: Any, k: int = 10, where: Any = None) -> dict[str, Any]:
        return self._hits(
            self.client.search(
                self.name, queries, top_k=k, where=where, include=["metadatas", "documents"]
            )
        )

    def search_text(self, query_texts: Any, k: int = 10, where: Any = None) -> dict[str, Any]:
        return self._hits(
            self.client.search_text(
                self.name,
                list(query_texts),
                top_k=k,
                where=where,
                include=["metadatas", "documents"],
            )
        )

    def hybrid_search(
        self,
        queries: Any,
        query_texts: Any,
        k: int = 10,
        fusion: str = "rrf",
        alpha: float = 0.5,
        where: Any = None,
    ) -> dict[str, Any]:
        return self._hits(
            self.client.hybrid_search(
                self.name,
                queries,
                list(query_texts),
                top_k=k,
                fusion=fusion,
                alpha=alpha,
                where=where,
                include=["metadatas", "documents"],
            )
        )


def resolve_collection(config: Mapping[str, Any]) -> Any:
    """``config["collection"]`` (an object with the Collection API), ``config["path"]``, or
    ``config["vdb"]`` (a VDBClient) with ``config["collection"]`` naming its collection."""
    if config.get("vdb") is not None:
        if not isinstance(config.get("collection"), str):
            raise ValueError("with 'vdb' (a VDBClient), 'collection' must name the collection")
        return VDBCollection(config["vdb"], config["collection"])
    col = config.get("collection")
    if col is not None:
        if isinstance(col, (str, Path)):
            return open_collection(col)
        return col
    if config.get("path"):
        return open_collection(config["path"])
    raise ValueError(
        "this operator needs 'collection' (a sage_native.Collection) or 'path' (its directory) in its config"
    )


def embedder_for(config: Mapping[str, Any]) -> Any:
    """``config["embedder"]`` (anything with ``embed(texts) -> array``) or the in-process/mesh
    all-MiniLM-L6-v2 (``config["mesh"]`` picks the mesh's LLM service)."""
    emb = config.get("embedder")
    if emb is not None:
        return emb
    from sage_client.llm.embeddings import EmbeddingClient

    return EmbeddingClient(mesh=config.get("mesh"))
