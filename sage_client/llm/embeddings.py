"""EmbeddingClient: sentence vectors (all-MiniLM-L6-v2, 384 dims, unit length) for pipelines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sage_client.llm.embedded import load_embedded_llm
from sage_client.llm.service_backend import ServiceLLM, client_for_mesh


class EmbeddingClient:
    """``embed(texts)`` returns a float32 array [len(texts), 384] of normalized vectors.

    Runs the model in-process (through the ``sage_mesh.embedded`` entry point), or, with
    ``mesh=`` (True, an address, or an LLMClient), calls the mesh's LLM service."""

    def __init__(self, mesh: Any = None) -> None:
        self._backend: Any = ServiceLLM(client_for_mesh(mesh)) if mesh else None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed takes a list of texts; wrap a single text as [text]")
        if self._backend is None:
            self._backend = load_embedded_llm({"embeddings_only": True})
        return np.asarray(self._backend.embed(list(texts)), dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
