"""In-process LLM for the SDK's LocalEnvironment, loaded through the ``sage_mesh.embedded`` entry point.

The SDK never imports this module by name (it stays importable without torch); it asks the entry
point for ``create_embedded_llm(config)`` and talks to the returned object through plain, sync
methods. Engines run on one private event loop thread; models are shared per process, so many
generators over the same model load it once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from sage_llm.engines.base import (
    ChatMessage,
    Engine,
    GenerationRequest,
    TokenDelta,
    validate_messages,
)
from sage_llm.sampling import SamplingParams

ENGINE_OPTION_KEYS = ("ttft_s", "tokens_per_s", "max_batch_size", "max_queue", "context_length")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="sage-llm-embedded", daemon=True
        )
        self._thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


_lock = threading.Lock()
_loop: _LoopThread | None = None
_engines: dict[tuple[str, str, tuple[tuple[str, Any], ...]], Engine] = {}
_embedder: Any = None


def _loop_thread() -> _LoopThread:
    global _loop
    with _lock:
        if _loop is None:
            _loop = _LoopThread()
        return _loop


class EmbeddedLLM:
    """Sync facade over one in-process engine (and the shared embedding model)."""

    def __init__(self, engine: Engine | None) -> None:
        self._engine_or_none = engine
        self._runner = _loop_thread()

    @property
    def _engine(self) -> Engine:
        if self._engine_or_none is None:
            raise RuntimeError("this in-process LLM was opened for embeddings only")
        return self._engine_or_none

    @property
    def model_name(self) -> str:
        return self._engine.info.name

    def models(self) -> list[dict[str, Any]]:
        info = self._engine.info
        return [
            {
                "name": info.name,
                "engine": info.engine,
                "device": info.device,
                "context_length": info.context_length,
            }
        ]

    def generate(self, prompt: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._collect(self.stream(prompt, params))

    def chat(
        self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self._collect(self.stream_chat(messages, params))

    def stream(self, prompt: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        request = GenerationRequest(prompt=prompt, params=SamplingParams.from_dict(dict(params)))
        return self._iterate(request)

    def stream_chat(
        self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]
    ) -> Iterator[dict[str, Any]]:
        chat = [ChatMessage(str(m["role"]), str(m["content"])) for m in messages]
        validate_messages(chat)
        prompt = self._engine.apply_chat_template(chat)
        return self.stream(prompt, params)

    def count_tokens(self, text: str) -> int:
        return self._engine.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> Any:
        return _shared_embedder().embed(texts)

    def _iterate(self, request: GenerationRequest) -> Iterator[dict[str, Any]]:
        stream = self._engine.generate_stream(request)
        loop = self._runner.loop
        try:
            while True:
                future: Future[TokenDelta] = asyncio.run_coroutine_threadsafe(anext(stream), loop)  # type: ignore[arg-type]
                try:
                    delta = future.result()
                except StopAsyncIteration:
                    return
                yield _delta_dict(delta)
                if delta.finish_reason is not None:
                    return
        finally:
            # Closing the engine stream on its loop stops decoding if the caller stopped early.
            asyncio.run_coroutine_threadsafe(stream.aclose(), loop).result()

    @staticmethod
    def _collect(deltas: Iterator[dict[str, Any]]) -> dict[str, Any]:
        parts: list[str] = []
        last: dict[str, Any] = {}
        for d in deltas:
            parts.append(d["text"])
            last = d
        return {
            "text": "".join(parts),
            "finish_reason": last.get("finish_reason"),
            "usage": last.get("usage"),
        }


def _delta_dict(delta: TokenDelta) -> dict[str, Any]:
    usage = None
    if delta.usage is not None:
        usage = {
            "prompt_tokens": delta.usage.prompt_tokens,
            "completion_tokens": delta.usage.completion_tokens,
            "total_tokens": delta.usage.total_tokens,
        }
    return {"text": delta.text, "finish_reason": delta.finish_reason, "usage": usage}


def _shared_embedder() -> Any:
    global _embedder
    with _lock:
        if _embedder is None:
            from sage_llm.embeddings import SentenceEmbedder

            _embedder = SentenceEmbedder()
        return _embedder


def create_embedded_llm(config: Mapping[str, Any]) -> EmbeddedLLM:
    """Entry point: ``config`` has ``backend_type`` (auto|mock|transformers|cpu|cuda|vllm|ascend|llamacpp),
    ``model_path`` (a local HF folder or .gguf; default SmolLM2-135M-Instruct) and engine options;
    ``embeddings_only`` skips loading a generation model."""
    from sage_llm.selection import build_engine

    if config.get("embeddings_only"):
        return EmbeddedLLM(None)
    backend = str(config.get("backend_type") or "auto")
    model_path = str(config.get("model_path") or "")
    options = tuple(sorted((k, config[k]) for k in ENGINE_OPTION_KEYS if config.get(k) is not None))
    key = (backend, model_path, options)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = build_engine(backend, model_path or None, **dict(options))
            _engines[key] = engine
    return EmbeddedLLM(engine)
