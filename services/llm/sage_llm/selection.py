"""Which engine to build for a backend name; ``auto`` decides from the hardware and says why.

``auto``: vLLM on CUDA, else transformers on CUDA, else Ascend, else on the CPU: llama.cpp for a
GGUF model when llama-cpp-python is installed (it runs the quantized weights as they are, with
continuous batching), transformers for a Hugging Face folder (or a GGUF without llama.cpp).
It never picks ``mock``: a fake model must be asked for by name.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sage_llm.engines.ascend import ascend_available, load_ascend_engine
from sage_llm.engines.base import Engine
from sage_llm.engines.llamacpp_model import llamacpp_available
from sage_llm.engines.vllm_engine import VLLMEngine, vllm_available
from sage_llm.errors import EngineUnavailableError, InvalidParameterError
from sage_llm.model_files import resolve_model_path

log = logging.getLogger(__name__)

MOCK_ONLY_OPTIONS = ("ttft_s", "tokens_per_s", "context_length")
BACKENDS = ("auto", "mock", "transformers", "cpu", "cuda", "vllm", "ascend", "llamacpp")


@dataclass(frozen=True)
class EngineChoice:
    engine: str  # mock | transformers | vllm | ascend | llamacpp
    device: str  # cpu | cuda | npu
    reason: str


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def is_gguf(model_path: str | Path | None) -> bool:
    """Whether the model to load is a .gguf file (the default model is one)."""
    try:
        return resolve_model_path(model_path).suffix == ".gguf"
    except EngineUnavailableError:  # missing: the engine's load says so with the path
        return str(model_path or "").endswith(".gguf")


def choose_engine(backend: str, model_path: str | Path | None = None) -> EngineChoice:
    """Resolve a backend name to an engine and device, raising where the hardware is missing."""
    if backend not in BACKENDS:
        raise InvalidParameterError(
            "backend_type", f"must be one of {list(BACKENDS)}, got {backend!r}"
        )
    if backend == "mock":
        return EngineChoice("mock", "cpu", "asked for by name")
    if backend in ("transformers", "cpu"):
        device = "cuda" if backend == "transformers" and cuda_available() else "cpu"
        return EngineChoice("transformers", device, f"asked for {backend!r}")
    if backend == "vllm":
        return EngineChoice("vllm", "cuda", "asked for by name")
    if backend == "ascend":
        return EngineChoice("ascend", "npu", "asked for by name")
    if backend == "llamacpp":
        return EngineChoice("llamacpp", "cpu", "asked for by name")
    if backend == "cuda":
        if not cuda_available():
            raise EngineUnavailableError(
                "backend 'cuda' asked for but torch sees no CUDA GPU; use 'auto' or 'transformers'"
            )
        if vllm_available():
            return EngineChoice("vllm", "cuda", "CUDA GPU present and vllm installed")
        return EngineChoice("transformers", "cuda", "CUDA GPU present, vllm not installed")
    # auto
    if cuda_available():
        if vllm_available():
            return EngineChoice("vllm", "cuda", "auto: CUDA GPU present and vllm installed")
        return EngineChoice("transformers", "cuda", "auto: CUDA GPU present but vllm not installed")
    if ascend_available():
        return EngineChoice("ascend", "npu", "auto: no CUDA GPU; torch-npu installed")
    if is_gguf(model_path):
        if llamacpp_available():
            return EngineChoice(
                "llamacpp", "cpu", "auto: no CUDA GPU, no torch-npu; a GGUF model and llama.cpp"
            )
        return EngineChoice(
            "transformers",
            "cpu",
            "auto: no CUDA GPU, no torch-npu; a GGUF model but llama-cpp-python is not "
            "installed (bash scripts/install-llamacpp.sh), so transformers dequantizes it",
        )
    return EngineChoice(
        "transformers", "cpu", "auto: no CUDA GPU, no torch-npu; a Hugging Face model on the CPU"
    )


def build_engine(
    backend: str = "auto",
    model_path: str | Path | None = None,
    name: str | None = None,
    **options: Any,
) -> Engine:
    """Build the engine for ``backend`` and log the choice. ``options`` go to the engine."""
    choice = choose_engine(backend, model_path)
    log.info(
        "LLM backend %r -> engine %s on %s (%s)",
        backend,
        choice.engine,
        choice.device,
        choice.reason,
    )
    if choice.engine == "mock":
        from sage_llm.engines.mock import MockEngine

        return MockEngine(name=name or "mock", **options)
    options = {k: v for k, v in options.items() if k not in MOCK_ONLY_OPTIONS}
    # loading (and converting) a model takes seconds to minutes: say when it starts and ends
    started = time.monotonic()
    log.info("loading the model with %s ...", choice.engine)
    engine = _load(choice, model_path, name, options)
    log.info("model loaded with %s in %.1f s", choice.engine, time.monotonic() - started)
    return engine


def _load(
    choice: EngineChoice, model_path: str | Path | None, name: str | None, options: dict[str, Any]
) -> Engine:
    if choice.engine == "vllm":
        return VLLMEngine.load(model_path, name=name, **options)
    if choice.engine == "ascend":
        return load_ascend_engine(model_path, name=name, **options)
    if choice.engine == "llamacpp":
        from sage_llm.engines.llamacpp_engine import LlamaCppEngine

        return LlamaCppEngine.load(model_path, name=name, **options)
    from sage_llm.engines.transformers_engine import TransformersEngine

    return TransformersEngine.load(model_path, device=choice.device, name=name, **options)
