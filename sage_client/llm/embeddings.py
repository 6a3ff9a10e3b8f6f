"""EmbeddingClient: sentence vectors (all-MiniLM-L6-v2, 384 dims, unit length) for pipelines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sage_client.llm.embedded import load_embedded_llm
from sage_client.llm.embedding_cache import EmbeddingCache
from sage_client.llm.service_backend import ServiceLLM, client_for_mesh


class EmbeddingClient:
    """``embed(texts)`` returns a float32 array [len(texts), 384] of normalized vectors.

    Runs the model in-process (through the ``sage_mesh.embedded`` entry point), or, with
    ``mesh=`` (True, an address, or an LLMClient), calls the mesh's LLM service. In-process,
    ``SAGE_EMBEDDING_CACHE`` (a folder) keeps the vectors of texts already embedded
    (``sage_client.llm.embedding_cache``)."""

    def __init__(self, mesh: Any = None) -> None:
        self._backend: Any = ServiceLLM(client_for_mesh(mesh)) if mesh else None
        self._cache = None if mesh else EmbeddingCache.from_env()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed takes a list of texts; wrap a single text as [text]")
        texts = list(texts)
        if self._cache is None or not texts:
            return self._run(texts)
        cached = self._cache.get(texts)
        missing = [i for i, v in enumerate(cached) if v is None]
        if missing:
            fresh = self._run([texts[i] for i in missing])
            self._cache.put([texts[i] for i in missing], fresh)
            for i, vector in zip(missing, fresh, strict=True):
                cached[i] = vector
        return np.stack([v for v in cached if v is not None])

    def _run(self, texts: list[str]) -> np.ndarray:
        if self._backend is None:
            self._backend = load_embedded_llm({"embeddings_only": True})
        return np.asarray(self._backend.embed(texts), dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
