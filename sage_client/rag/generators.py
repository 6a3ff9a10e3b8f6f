"""Generators for RAG records: the LLM SDK's generators, taught to read and extend a record.

A dict record with ``prompt`` gets ``answer``, ``usage`` and a ``generate`` timing; any other
input (a prompt, chat messages, a ``[query, prompt]`` pair) behaves as in ``sage_client.llm``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sage_client.llm.generator import SageLLMGenerator as _SageLLMGenerator
from sage_client.llm.openai_generator import OpenAIGenerator as _OpenAIGenerator
from sage_client.rag.records import Record, add_timing


def _is_sage_pair(data: Any) -> bool:
    """SAGE's promptor output ``[original_data, prompt]`` with a dict original."""
    return isinstance(data, list | tuple) and len(data) == 2 and isinstance(data[0], Mapping)


def _generate_sage(generator: Any, data: Any) -> Record:
    """SAGE's generator output: the original dict plus ``generated`` (and ``question``)."""
    original, prompt = data
    result = dict(original)
    result["generated"] = str(generator.generate(prompt)["text"]).strip()
    query = original.get("query", original.get("question", ""))
    result.setdefault("question", {"query": query, "references": result.get("references", [])})
    return result


def _generate_into(generator: Any, data: Mapping[str, Any]) -> Record:
    record = dict(data)
    if "prompt" not in record:
        raise ValueError(
            f"{type(generator).__name__} got a record without 'prompt' (keys {sorted(record)}); "
            "put a promptor (QAPromptor, ChatPromptor) before the generator"
        )
    t0 = time.perf_counter()
    result = generator.generate(record["prompt"])
    add_timing(record, "generate", time.perf_counter() - t0)
    record["answer"] = str(result["text"]).strip()
    record["usage"] = dict(result.get("usage") or {})
    return record


class SageLLMGenerator(_SageLLMGenerator):
    __doc__ = _SageLLMGenerator.__doc__

    def execute(self, data: Any) -> Any:
        if isinstance(data, Mapping) and "role" not in data:
            return _generate_into(self, data)
        if _is_sage_pair(data):
            return _generate_sage(self, data)
        return super().execute(data)


class OpenAIGenerator(_OpenAIGenerator):
    __doc__ = _OpenAIGenerator.__doc__

    def execute(self, data: Any) -> Any:
        if isinstance(data, Mapping) and "role" not in data:
            return _generate_into(self, data)
        if _is_sage_pair(data):
            return _generate_sage(self, data)
        return super().execute(data)


class HFGenerator(SageLLMGenerator):
    """SAGE's HFGenerator(config): a Hugging Face model run in this process by the transformers
    engine (``config["model_name"]`` is the model's path or hub name)."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        cfg = dict(config or {})
        cfg.pop("method", None)
        if "model_name" in cfg and "model_path" not in cfg:
            cfg["model_path"] = cfg.pop("model_name")
        cfg.setdefault("backend_type", "transformers")
        super().__init__(cfg, **kwargs)
