"""The record that flows through a RAG pipeline: a dict, so it pickles, prints and goes to JSONL.

Fields (each operator adds its own): ``query``; ``results`` (retrieved chunks, best first:
``{"id", "text", "source", "position", "score"}``); ``prompt``; ``answer``; ``usage``
(``prompt_tokens``, ``completion_tokens``); ``timings`` (seconds per stage); plus whatever the
question set carried (``id``, ``references``, ``gold_sources``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Record = dict[str, Any]


def as_record(data: Any) -> Record:
    """A question string or a dict with ``query`` (or ``question``) as a new record dict."""
    if isinstance(data, str):
        return {"query": data}
    if isinstance(data, Mapping):
        record = dict(data)
        if "query" not in record and isinstance(record.get("question"), str):
            record["query"] = record["question"]
        if not isinstance(record.get("query"), str):
            raise ValueError(
                f"a RAG record needs a string 'query' (or 'question'); got keys {sorted(record)}"
            )
        return record
    raise TypeError(
        f"a RAG operator takes a question string or a dict with 'query'; got {type(data).__name__}"
    )


def add_timing(record: Record, stage: str, seconds: float) -> None:
    timings = dict(record.get("timings") or {})
    timings[stage] = timings.get(stage, 0.0) + seconds
    record["timings"] = timings
