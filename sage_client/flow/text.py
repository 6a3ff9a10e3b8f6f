"""The RAG link: a stream of texts becomes a stream of VectorRecord, embedded in batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sage_client.dataflow.api.datastream import DataStream
from sage_client.dataflow.api.windows import COUNT, TumblingWindow, Window
from sage_client.flow.records import VectorRecord


class _EmbedBatch:
    """Count-window function: one ``embed`` call for the window's texts."""

    def __init__(
        self,
        embedder: Any,
        text: Callable[[Any], str],
        uid: Callable[[Any], Any],
        timestamp: Callable[[Any], float],
    ) -> None:
        self.embedder = embedder
        self.text, self.uid, self.timestamp = text, uid, timestamp

    def __call__(self, key: Any, window: Window, records: list[Any]) -> list[VectorRecord]:
        if self.embedder is None:  # the shipped all-MiniLM-L6-v2, loaded once per job
            from sage_client.llm.embeddings import EmbeddingClient

            self.embedder = EmbeddingClient()
        texts = [self.text(r) for r in records]
        vectors = self.embedder.embed(texts)
        return [
            VectorRecord(self.uid(r), self.timestamp(r), vectors[i], payload=r)
            for i, r in enumerate(records)
        ]


def _field(name: str) -> Callable[[Any], Any]:
    return lambda r: r[name] if isinstance(r, dict) else getattr(r, name)


def embed_texts(
    stream: DataStream,
    *,
    embedder: Any = None,
    batch_size: int = 32,
    text: Callable[[Any], str] | None = None,
    uid: Callable[[Any], Any] | None = None,
    timestamp: Callable[[Any], float] | None = None,
) -> DataStream:
    """Records (dicts or objects with ``text``, ``uid``, ``timestamp``, or the given accessors)
    to VectorRecord(uid, timestamp, embedding, payload=record), ``batch_size`` texts per
    ``embedder.embed`` call (default: all-MiniLM-L6-v2, 384 dims, unit length)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    fn = _EmbedBatch(
        embedder, text or _field("text"), uid or _field("uid"), timestamp or _field("timestamp")
    )
    return stream.keyby(lambda r: 0).window(TumblingWindow(batch_size), time=COUNT).apply(fn)
