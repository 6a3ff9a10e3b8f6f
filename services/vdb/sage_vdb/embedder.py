"""Text -> vectors through the LLM service's Embed RPC, in batches, for collections that name
an embedding model."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from sage_client.codec.vectors import vectors_view
from sage_client.errors import SageError
from sage_client.llm.client import AsyncLLMClient
from sage_runtime import errors as err


class TextEmbedder:
    def __init__(self, address: str, batch: int) -> None:
        self._address = address or None
        self._batch = batch
        self._client: AsyncLLMClient | None = None

    def _llm(self) -> AsyncLLMClient:
        # Built lazily inside the serving event loop (grpc.aio channels belong to one loop).
        if self._client is None:
            self._client = AsyncLLMClient(address=self._address, timeout=120.0)
        return self._client

    async def embed(
        self, model: str, texts: Sequence[str], dimension: int, field: str
    ) -> np.ndarray:
        """float32 [len(texts), dimension]; batches run concurrently on the LLM service."""
        if not texts:
            return np.empty((0, dimension), dtype=np.float32)
        batches = [list(texts[i : i + self._batch]) for i in range(0, len(texts), self._batch)]
        try:
            replies = await asyncio.gather(
                *(self._llm().embeddings(b, model=model) for b in batches)
            )
        except SageError as exc:
            raise err.backend_unavailable(
                "llm",
                f"embedding {field} with model {model!r} through the LLM service failed: {exc}",
            ) from None
        for reply in replies:
            if reply.dimension != dimension:
                raise err.invalid_argument(
                    field,
                    f"model {model!r} makes {reply.dimension}-dimensional vectors but the collection has "
                    f"dimension {dimension}; create the collection with dimension={reply.dimension}",
                )
        return np.concatenate([vectors_view(r.packed, -1, dimension) for r in replies])

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
