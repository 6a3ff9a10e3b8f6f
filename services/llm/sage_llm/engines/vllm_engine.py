"""vLLM's async engine on CUDA, when ``vllm`` is installed. Import-guarded: nothing here loads vllm
until an engine is actually built."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any

from sage_llm.engines.base import (
    FINISH_CANCELLED,
    FINISH_LENGTH,
    FINISH_STOP,
    ChatMessage,
    Engine,
    GenerationRequest,
    ModelInfo,
    TokenDelta,
    Usage,
)
from sage_llm.errors import EngineUnavailableError
from sage_llm.model_files import load_tokenizer, model_name_for, resolve_model_path


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


class VLLMEngine(Engine):
    def __init__(self, engine: Any, tokenizer: Any, name: str, context_length: int) -> None:
        self._engine = engine
        self._tokenizer = tokenizer
        self._info = ModelInfo(
            name=name, engine="vllm", device="cuda", context_length=context_length
        )

    @classmethod
    def load(
        cls,
        model_path: str | Path | None = None,
        name: str | None = None,
        gpu_memory_utilization: float = 0.5,
        max_model_len: int | None = None,
    ) -> VLLMEngine:
        if not vllm_available():
            raise EngineUnavailableError(
                "the vllm engine needs the vllm package and a CUDA GPU (pip install vllm); "
                "choose backend 'transformers' or 'auto' elsewhere"
            )
        import vllm

        path = resolve_model_path(model_path)
        args: dict[str, Any] = {
            "model": str(path),
            "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": max_model_len,
        }
        if path.suffix == ".gguf":
            # vLLM reads GGUF weights but wants the tokenizer from the HF loader's conversion.
            args["tokenizer"] = str(path.parent)
        engine = vllm.AsyncLLMEngine.from_engine_args(vllm.AsyncEngineArgs(**args))
        tokenizer = load_tokenizer(path)
        context = max_model_len or int(getattr(tokenizer, "model_max_length", 0) or 0)
        if not context or context > 10**7:
            context = 4096
        return cls(engine, tokenizer, name or model_name_for(path), context)

    @property
    def info(self) -> ModelInfo:
        return self._info

    def tokenize(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def detokenize(self, token_ids: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(token_ids), skip_special_tokens=True))

    def apply_chat_template(self, messages: Sequence[ChatMessage]) -> str:
        turns = [{"role": m.role, "content": m.content} for m in messages]
        return str(
            self._tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        )

    async def generate_stream(self, request: GenerationRequest) -> AsyncGenerator[TokenDelta, None]:
        import vllm

        prompt_ids = self.prompt_ids(request)
        p = request.params
        sampling = vllm.SamplingParams(
            temperature=p.temperature,
            top_p=p.top_p,
            top_k=p.top_k if p.top_k > 0 else -1,
            max_tokens=self.generation_budget(len(prompt_ids), p),
            stop=list(p.stop) or None,
            seed=p.seed,
            repetition_penalty=p.repetition_penalty,
            presence_penalty=p.presence_penalty,
            frequency_penalty=p.frequency_penalty,
        )
        prompt = {"prompt_token_ids": prompt_ids}
        sent = 0
        finished = False
        try:
            async for output in self._engine.generate(prompt, sampling, request.request_id):
                completion = output.outputs[0]
                text = completion.text  # cumulative
                piece, sent = text[sent:], len(text)
                if output.finished:
                    finished = True
                    reason = {"stop": FINISH_STOP, "length": FINISH_LENGTH}.get(
                        completion.finish_reason or "", FINISH_CANCELLED
                    )
                    usage = Usage(len(prompt_ids), len(completion.token_ids))
                    yield TokenDelta(piece, tuple(completion.token_ids[-1:]), reason, usage)
                    return
                if piece:
                    yield TokenDelta(piece, tuple(completion.token_ids[-1:]))
        finally:
            if not finished:
                await self._engine.abort(request.request_id)

    async def close(self) -> None:
        shutdown = getattr(self._engine, "shutdown", None)
        if callable(shutdown):
            shutdown()
