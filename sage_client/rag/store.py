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

EMBEDDING_DIM = 384  # all-MiniLM-L6-v2

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
            col = sage_native.Collection.create(key, dim=dim, metric=metric, index="flat", fsync="none")
        _open[key] = col
        return col


def close_collection(path: str | Path) -> None:
    key = str(Path(path).resolve())
    with _lock:
        col = _open.pop(key, None)
    if col is not None:
        col.close()


def resolve_collection(config: Mapping[str, Any]) -> Any:
    """``config["collection"]`` (an object with the Collection API) or ``config["path"]``."""
    col = config.get("collection")
    if col is not None:
        if isinstance(col, (str, Path)):
            return open_collection(col)
        return col
    if config.get("path"):
        return open_collection(config["path"])
    raise ValueError("this operator needs 'collection' (a sage_native.Collection) or 'path' (its directory) in its config")


def embedder_for(config: Mapping[str, Any]) -> Any:
    """``config["embedder"]`` (anything with ``embed(texts) -> array``) or the in-process/mesh
    all-MiniLM-L6-v2 (``config["mesh"]`` picks the mesh's LLM service)."""
    emb = config.get("embedder")
    if emb is not None:
        return emb
    from sage_client.llm.embeddings import EmbeddingClient

    return EmbeddingClient(mesh=config.get("mesh"))
