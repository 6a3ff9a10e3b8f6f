"""Configuration of the LLM service (YAML file and SAGE_* environment variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sage_runtime.config import ServiceConfig


class LLMConfig(ServiceConfig):
    backend: Literal[
        "auto", "mock", "transformers", "cpu", "cuda", "vllm", "ascend", "llamacpp"
    ] = "auto"
    model_path: str = Field(
        default="", description="HF folder or .gguf; empty = bundled SmolLM2-135M-Instruct"
    )
    model_name: str = Field(
        default="", description="name clients use; empty = derived from the path"
    )
    extra_models: list[str] = Field(
        default_factory=list, description="more models on the same backend, each 'name=path'"
    )
    embeddings: bool = Field(default=True, description="serve all-MiniLM-L6-v2 embeddings")
    max_batch_size: int = Field(default=16, ge=1, le=1024)
    max_queue: int = Field(default=64, ge=0, le=100_000)
    mock_ttft_s: float = Field(default=0.0, ge=0.0, le=60.0)
    mock_tokens_per_s: float = Field(default=0.0, ge=0.0)
    mock_context_length: int = Field(default=4096, ge=16)
    max_prompt_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="longest prompt (UTF-8 bytes; for chat, all messages together) accepted before tokenizing",
    )
