"""Promptors: turn a record with ``query`` and ``results`` into ``prompt`` chat messages.

``QAPromptor(template)`` fills ``{context}`` (numbered chunks with their sources) and
``{question}``; ``ChatPromptor`` also puts the conversation so far (``history``) before the
question, for conversational RAG.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from sage_client.dataflow.api.functions import MapFunction
from sage_client.rag.records import Record, as_record

DEFAULT_SYSTEM = "You answer questions using only the given context. Answer in one short sentence."
DEFAULT_TEMPLATE = "Context:\n{context}\n\nQuestion: {question}\nAnswer:"
NO_CONTEXT_TEMPLATE = "Question: {question}\nAnswer:"
# Quote, do not paraphrase, and cite: the main job's prompt. The answer extractor
# (extractive.py) can count the quote as a vote for the span it matches (off by default).
QUOTE_SYSTEM = (
    "You answer questions about a software project using only the numbered context. "
    "Copy the exact words of the context that answer the question, then cite the passage "
    "number like [1]. Keep it short."
)
QUOTE_TEMPLATE = "Context:\n{context}\n\nQuestion: {question}\nAnswer (quoted from the context):"


def format_context(results: Sequence[Mapping[str, Any]], max_chars: int | None = None) -> str:
    """Chunks as ``[1] (source) text`` lines, best first, cut to ``max_chars`` per chunk."""
    lines = []
    for i, r in enumerate(results, 1):
        text = " ".join(str(r.get("text", "")).split())
        if max_chars is not None and len(text) > max_chars:
            text = text[:max_chars].rsplit(" ", 1)[0] + " ..."
        lines.append(f"[{i}] ({r.get('source', '?')}) {text}")
    return "\n".join(lines)


def _check_template(template: str) -> None:
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    unknown = fields - {"context", "question"}
    if unknown:
        raise ValueError(
            f"template fields must be {{context}} and/or {{question}}; unknown: {sorted(unknown)}"
        )
    if "question" not in fields:
        raise ValueError("template must contain {question}")


class QAPromptor(MapFunction):
    """``QAPromptor({"template": ..., "system": ..., "max_context_chars": 600})`` or
    ``QAPromptor("...{context}...{question}...")``. With ``"use_context": False`` the prompt has
    the question only (the no-retrieval baseline)."""

    def __init__(self, config: Mapping[str, Any] | str | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = {"template": config} if isinstance(config, str) else dict(config or {})
        cfg.update(kwargs)
        self.use_context = bool(cfg.get("use_context", True))
        self.template = str(
            cfg.get("template") or (DEFAULT_TEMPLATE if self.use_context else NO_CONTEXT_TEMPLATE)
        )
        _check_template(self.template)
        self.system = str(cfg.get("system", DEFAULT_SYSTEM))
        limit = cfg.get("max_context_chars", 600)
        self.max_context_chars = int(limit) if limit is not None else None

    def user_message(self, record: Mapping[str, Any]) -> str:
        context = (
            format_context(record.get("results") or [], self.max_context_chars)
            if self.use_context
            else ""
        )
        return self.template.format(context=context, question=record["query"])

    def execute(self, data: Any) -> Record:
        record = as_record(data)
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": self.user_message(record)})
        record["prompt"] = messages
        return record


class ChatPromptor(QAPromptor):
    """Like QAPromptor, with earlier turns (``record["history"]``: chat messages) between the
    system message and the question; ``max_history`` keeps the latest messages only."""

    def __init__(self, config: Mapping[str, Any] | str | None = None, **kwargs: Any) -> None:
        cfg = {"template": config} if isinstance(config, str) else dict(config or {})
        cfg.update(kwargs)
        self.max_history = int(cfg.pop("max_history", 6))
        super().__init__(cfg)

    def execute(self, data: Any) -> Record:
        record = as_record(data)
        history = (
            [
                {"role": str(m["role"]), "content": str(m["content"])}
                for m in (record.get("history") or [])
                if m.get("role") in ("user", "assistant")
            ][-self.max_history :]
            if self.max_history > 0
            else []
        )
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.extend(history)
        messages.append({"role": "user", "content": self.user_message(record)})
        record["prompt"] = messages
        return record


def _sage_template(template: Any) -> Any:
    """SAGE's Jinja-style ``{{ external_corpus }}`` / ``{{ question }}`` as our fields."""
    if not isinstance(template, str) or "{{" not in template:
        return template
    for sage, ours in (
        ("external_corpus", "context"),
        ("question", "question"),
        ("query", "question"),
    ):
        template = re.sub(r"\{\{\s*" + sage + r"\s*\}\}", "{" + ours + "}", template)
    return template


SAGE_NO_CONTEXT_SYSTEM = "You are a helpful AI assistant. Answer the user's questions accurately."


def _jinja_system_template(template: Any) -> Any:
    """A SAGE template with Jinja blocks (``{%- if external_corpus %}``...) or without a
    ``{{ question }}``: SAGE renders it, with the corpus, as the system prompt."""
    if not isinstance(template, str) or ("{%" not in template and "{{" not in template):
        return None
    if "{%" not in template and re.search(r"\{\{\s*(question|query)\s*\}\}", template):
        return None  # a one-message template with both fields: ours after _sage_template
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment().from_string(template)


def _corpus(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    for key in ("results", "retrieval_results", "external_corpus", "context"):
        value = raw.get(key)
        if value:
            items = value if isinstance(value, list | tuple) else [value]
            return [
                dict(i) if isinstance(i, Mapping) else {"text": str(i), "source": key}
                for i in items
            ]
    return []


class PairQAPromptor(QAPromptor):
    """SAGE's QAPromptor shape: takes a question string, ``(query, corpus)`` or a dict with
    ``query``/``question`` and ``results``/``retrieval_results``/``external_corpus``, and emits
    ``[original_data, messages]`` — what SAGE's generators take. Prompts as QAPromptor's."""

    def __init__(self, config: Mapping[str, Any] | str | None = None, **kwargs: Any) -> None:
        cfg: dict[str, Any] = (
            {"template": config} if isinstance(config, str) else dict(config or {})
        )
        cfg.update(kwargs)
        self.jinja = _jinja_system_template(cfg.get("template"))
        cfg["template"] = None if self.jinja is not None else _sage_template(cfg.get("template"))
        for sage_only in ("use_short_answer", "enable_profile"):
            cfg.pop(sage_only, None)
        super().__init__(cfg)

    def execute(self, data: Any) -> list[Any]:  # type: ignore[override]  # SAGE's pair shape
        if isinstance(data, tuple | list) and len(data) == 2 and isinstance(data[0], str):
            query, corpus = data
            items = corpus if isinstance(corpus, list | tuple) else [corpus]
            record = {
                "query": query,
                "results": [{"text": str(c), "source": "corpus"} for c in items],
            }
            original: Any = query
        elif isinstance(data, Mapping):
            record = {
                "query": data.get("query", data.get("question", "")),
                "results": _corpus(data),
            }
            original = data
        else:
            record, original = {"query": str(data), "results": []}, {"query": str(data)}
        if self.jinja is not None:  # SAGE's own shape: the template is the system prompt
            corpus = "\n".join(str(r.get("text", "")) for r in record["results"])
            system = (
                self.jinja.render(external_corpus=corpus, question=record["query"])
                if corpus
                else SAGE_NO_CONTEXT_SYSTEM
            )
            question = {"role": "user", "content": f"Question: {record['query']}"}
            return [original, [{"role": "system", "content": system}, question]]
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": self.user_message(record)})
        return [original, messages]
