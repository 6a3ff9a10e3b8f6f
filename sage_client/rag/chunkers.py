"""Chunkers: a document in, chunks out, each keeping its source and position.

A chunk is ``{"id", "text", "source", "position", "start", "end", "metadata"}``: ``position`` is
its index within the document, ``start``/``end`` character offsets into the document text, so a
cited chunk can be found again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sage_client.dataflow.api.functions import FlatMapFunction
from sage_client.rag.text import sentence_spans, word_spans

Chunk = dict[str, Any]


def _check_sizes(size: int, overlap: int, unit: str) -> None:
    if size <= 0:
        raise ValueError(f"chunk_size must be a positive number of {unit}, got {size}")
    if overlap < 0 or overlap >= size:
        raise ValueError(f"chunk_overlap must be >= 0 and < chunk_size ({size}), got {overlap}")


def _make_chunks(document: Mapping[str, Any], windows: list[tuple[int, int]]) -> list[Chunk]:
    text = str(document["text"])
    source = str(document.get("source", ""))
    meta = dict(document.get("metadata") or {})
    return [
        {
            "id": f"{source}#{i}",
            "text": text[start:end],
            "source": source,
            "position": i,
            "start": start,
            "end": end,
            "metadata": meta,
        }
        for i, (start, end) in enumerate(windows)
    ]


def _windows(spans: list[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Group consecutive units (words or sentences) ``size`` at a time, stepping ``size - overlap``."""
    out: list[tuple[int, int]] = []
    step = size - overlap
    for first in range(0, len(spans), step):
        group = spans[first : first + size]
        out.append((group[0][0], group[-1][1]))
        if first + size >= len(spans):
            break
    return out


def chunk_by_tokens(
    document: Mapping[str, Any], chunk_size: int = 200, chunk_overlap: int = 40
) -> list[Chunk]:
    """Windows of ``chunk_size`` words, consecutive windows sharing ``chunk_overlap`` words."""
    _check_sizes(chunk_size, chunk_overlap, "tokens")
    return _make_chunks(
        document, _windows(word_spans(str(document["text"])), chunk_size, chunk_overlap)
    )


def chunk_by_sentences(
    document: Mapping[str, Any], chunk_size: int = 5, chunk_overlap: int = 1
) -> list[Chunk]:
    """Windows of ``chunk_size`` sentences, consecutive windows sharing ``chunk_overlap`` sentences."""
    _check_sizes(chunk_size, chunk_overlap, "sentences")
    return _make_chunks(
        document, _windows(sentence_spans(str(document["text"])), chunk_size, chunk_overlap)
    )


def _options(
    config: Mapping[str, Any] | None, kwargs: Mapping[str, Any], size: int, overlap: int
) -> tuple[int, int]:
    merged = {**(config or {}), **kwargs}
    unknown = set(merged) - {"chunk_size", "chunk_overlap"}
    if unknown:
        raise ValueError(
            f"unknown chunker option(s) {sorted(unknown)}; known: chunk_size, chunk_overlap"
        )
    return int(merged.get("chunk_size", size)), int(merged.get("chunk_overlap", overlap))


class TokenChunker(FlatMapFunction):
    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.chunk_size, self.chunk_overlap = _options(config, kwargs, 200, 40)
        _check_sizes(self.chunk_size, self.chunk_overlap, "tokens")

    def execute(self, data: Mapping[str, Any]) -> list[Chunk]:
        return chunk_by_tokens(data, self.chunk_size, self.chunk_overlap)


class SentenceChunker(FlatMapFunction):
    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.chunk_size, self.chunk_overlap = _options(config, kwargs, 5, 1)
        _check_sizes(self.chunk_size, self.chunk_overlap, "sentences")

    def execute(self, data: Mapping[str, Any]) -> list[Chunk]:
        return chunk_by_sentences(data, self.chunk_size, self.chunk_overlap)
