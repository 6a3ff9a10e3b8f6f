"""Rerankers: reorder a record's ``results`` and keep the best ``top_k``.

``EmbeddingReranker`` scores each chunk by cosine similarity to the question;
``LLMReranker`` asks a language model to rate each chunk 0-10 (LLM-as-judge).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from sage_client.dataflow.api.functions import MapFunction
from sage_client.rag.records import Record, add_timing, as_record
from sage_client.rag.store import embedder_for

JUDGE_PROMPT = (
    "Rate how useful the passage is for answering the question, from 0 (useless) to 10 "
    "(answers it). Reply with the number only.\n\nQuestion: {question}\n\nPassage: {passage}\n\nScore:"
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class _Reranker(MapFunction):
    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = {**(config or {}), **kwargs}
        self.top_k = int(self.config.get("top_k", 3))
        if self.top_k <= 0:
            raise ValueError(f"top_k must be positive, got {self.top_k}")

    def execute(self, data: Any) -> Record:
        record = as_record(data)
        results = list(record.get("results") or [])
        t0 = time.perf_counter()
        scores = (
            self.score(record["query"], [str(r.get("text", "")) for r in results])
            if results
            else []
        )
        order = sorted(range(len(results)), key=lambda i: -scores[i])
        record["results"] = [
            {**results[i], "rerank_score": float(scores[i])} for i in order[: self.top_k]
        ]
        add_timing(record, "rerank", time.perf_counter() - t0)
        return record

    def score(self, query: str, passages: list[str]) -> list[float]:
        raise NotImplementedError


class EmbeddingReranker(_Reranker):
    """Cosine similarity of question and chunk embeddings (``embedder`` or all-MiniLM-L6-v2)."""

    def score(self, query: str, passages: list[str]) -> list[float]:
        embedder = embedder_for(self.config)
        vectors = np.asarray(embedder.embed([query, *passages]), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        unit = vectors / norms[:, None]
        return [float(x) for x in unit[1:] @ unit[0]]


class LLMReranker(_Reranker):
    """Config ``llm``: a callable ``prompt -> text`` or an object with ``execute(prompt)`` (e.g. a
    ``SageLLMGenerator``); an unparsable reply scores 0 so a confused judge cannot promote a chunk."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        llm = self.config.get("llm")
        if llm is None:
            raise ValueError(
                "LLMReranker needs 'llm': a callable prompt -> text or a generator with execute()"
            )
        self._llm: Callable[[str], Any] = (
            llm if callable(llm) and not hasattr(llm, "execute") else llm.execute
        )
        self.template = str(self.config.get("template", JUDGE_PROMPT))

    def score(self, query: str, passages: list[str]) -> list[float]:
        return [
            parse_score(str(self._llm(self.template.format(question=query, passage=p))))
            for p in passages
        ]


def parse_score(reply: str, low: float = 0.0, high: float = 10.0) -> float:
    """The first number in ``reply`` clamped to [low, high]; 0 when there is none."""
    m = _NUMBER.search(reply)
    if not m:
        return 0.0
    return min(high, max(low, float(m.group())))
