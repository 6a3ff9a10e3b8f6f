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
        return super().execute(data)


class OpenAIGenerator(_OpenAIGenerator):
    __doc__ = _OpenAIGenerator.__doc__

    def execute(self, data: Any) -> Any:
        if isinstance(data, Mapping) and "role" not in data:
            return _generate_into(self, data)
        return super().execute(data)
