"""Where streaming top-k searches go: a native collection in-process, or the VDB service.

A target answers ``search(queries, k) -> list[Hits]`` for a whole window at once: one native
call, or VDB ``Search`` RPCs of at most ``batch_size`` queries each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import sage_native


@dataclass(frozen=True)
class Hits:
    ids: list[Any]
    scores: list[float]
    documents: list[Any] | None = None
    metadatas: list[Any] | None = None


class CollectionTarget:
    """A ``sage_native.Collection`` opened in this process (its search releases the GIL)."""

    def __init__(
        self, collection: Any, include_documents: bool = False, include_metadatas: bool = False
    ) -> None:
        self.collection = collection
        self.include = tuple(
            name
            for name, wanted in (("documents", include_documents), ("metadatas", include_metadatas))
            if wanted
        )
        self.dim = int(collection.dim)

    def search(self, queries: np.ndarray, k: int) -> list[Hits]:
        result = self.collection.search(queries, k=k, include=self.include)
        scores = result["scores"]
        docs, metas = result.get("documents"), result.get("metadatas")
        out = []
        for q, ids in enumerate(result["ids"]):
            row = [float(s) for s in scores[q, : len(ids)]]
            out.append(
                Hits(
                    list(ids),
                    row,
                    list(docs[q]) if docs is not None else None,
                    list(metas[q]) if metas is not None else None,
                )
            )
        return out


class VDBTarget:
    """A collection of the VDB service, through the SDK's ``VDBClient`` (authenticated as the
    client is). Queries go in batches of ``batch_size`` per ``Search`` call."""

    def __init__(
        self,
        client: Any,
        collection: str,
        *,
        batch_size: int = 256,
        include_documents: bool = False,
        include_metadatas: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.client = client
        self.collection = collection
        self.batch_size = batch_size
        self.include: list[Any] = ["documents"] if include_documents else []
        if include_metadatas:
            self.include.append("metadatas")
        self.dim = int(client.get_collection(collection).dimension)

    def search(self, queries: np.ndarray, k: int) -> list[Hits]:
        include = self.include
        out: list[Hits] = []
        for start in range(0, len(queries), self.batch_size):
            chunk = queries[start : start + self.batch_size]
            for r in self.client.search(self.collection, chunk, top_k=k, include=include):
                out.append(
                    Hits(list(r.ids), [float(s) for s in r.scores], r.documents, r.metadatas)
                )
        return out


def as_target(target: Any, collection: str | None = None, **options: Any) -> Any:
    """A native Collection, a VDBClient (with ``collection``), or a custom target: an object
    with ``dim`` and ``search(queries, k) -> list[Hits]``."""
    if isinstance(target, sage_native.Collection):
        return CollectionTarget(target, **options)
    if collection is not None:
        return VDBTarget(target, collection, **options)
    if callable(getattr(target, "search", None)) and hasattr(target, "dim"):
        return target
    raise TypeError(
        "top-k needs a sage_native.Collection, a VDBClient with collection=<name>, "
        f"or an object with search(queries, k) and dim; got {type(target).__name__}"
    )
