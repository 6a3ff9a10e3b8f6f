"""Retrieval for a chat turn: the last user message searched in a VDB collection the gateway
offers for RAG (``rag_collections``), the hits kept as the turn's sources. The prompt quotes
them numbered; the response returns them (``sources``: id, score, document, metadata) so a
client shows what the answer was drawn from.

Only collections the operator lists are searched: VDB collections belong to the mesh, not to
a key's user, so the gateway never lets a caller name an arbitrary one (`rag_collections`
empty, the default, refuses every `rag` request).
"""

from __future__ import annotations

import math
from typing import Any

from sage_client.vdb import AsyncVDBClient

MAX_DOCUMENT_CHARS = 2000  # of each source, in the prompt and the response


class Retriever:
    def __init__(self, collections: list[str]) -> None:
        self.collections = frozenset(collections)
        self._vdb: AsyncVDBClient | None = None

    def offers(self, collection: str) -> bool:
        return collection in self.collections

    async def search(self, collection: str, query: str, top_k: int) -> list[dict[str, Any]]:
        if self._vdb is None:
            self._vdb = AsyncVDBClient(timeout=30)
        (found,) = await self._vdb.search_text(
            collection, [query], top_k=top_k, include=("metadatas", "documents")
        )
        metadatas = found.metadatas or [{} for _ in found.ids]
        documents = found.documents or ["" for _ in found.ids]
        return [
            {
                "id": hit_id,
                "score": score if math.isfinite(score) else None,
                "document": (documents[i] or "")[:MAX_DOCUMENT_CHARS],
                "metadata": metadatas[i] or {},
            }
            for i, (hit_id, score) in enumerate(zip(found.ids, found.scores, strict=True))
        ]

    async def close(self) -> None:
        if self._vdb is not None:
            await self._vdb.close()


def sources_prompt(sources: list[dict[str, Any]]) -> str:
    """The system message that hands the sources to the model, numbered for citing."""
    lines = [
        "Answer from these sources when they are relevant, citing them as [1], [2], ...; "
        "say so when they do not hold the answer."
    ]
    lines += [f"[{i}] {s['document']}" for i, s in enumerate(sources, start=1)]
    return "\n".join(lines)
