"""The models one LLM instance serves: generation engines by name, plus the embedding model."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sage_llm.config import LLMConfig
from sage_llm.engines.base import Engine
from sage_llm.errors import UnknownModelError

if TYPE_CHECKING:  # torch is imported only where a real model is loaded
    from sage_llm.embeddings import SentenceEmbedder

log = logging.getLogger(__name__)


@dataclass
class ModelSet:
    engines: dict[str, Engine] = field(default_factory=dict)
    default: str = ""
    embedder: SentenceEmbedder | None = None

    def engine(self, name: str) -> Engine:
        key = name or self.default
        engine = self.engines.get(key)
        if engine is None:
            raise UnknownModelError(name, sorted(self.engines))
        return engine

    def embedding_model(self, name: str) -> SentenceEmbedder:
        if self.embedder is None or (name and name != self.embedder.name):
            served = [self.embedder.name] if self.embedder else []
            raise UnknownModelError(name or "<default embedding model>", served)
        return self.embedder

    def metadata(self) -> dict[str, Any]:
        """What the instance publishes in etcd so clients can route by model name."""
        return {
            "models": sorted(self.engines),
            "default_model": self.default,
            "embedding_models": [self.embedder.name] if self.embedder else [],
        }

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.close()


def _model_specs(config: LLMConfig) -> list[tuple[str | None, str | None]]:
    specs: list[tuple[str | None, str | None]] = [
        (config.model_name or None, config.model_path or None)
    ]
    for item in config.extra_models:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"extra_models entry {item!r} must look like 'name=path'")
        specs.append((name, path))
    return specs


async def load_models(config: LLMConfig) -> ModelSet:
    """Load every configured model (off the event loop: loading takes seconds)."""
    from sage_llm.selection import build_engine

    models = ModelSet()
    for name, path in _model_specs(config):
        options: dict[str, Any] = {
            "max_batch_size": config.max_batch_size,
            "max_queue": config.max_queue,
        }
        if config.backend == "mock":
            options |= {
                "ttft_s": config.mock_ttft_s,
                "tokens_per_s": config.mock_tokens_per_s,
                "context_length": config.mock_context_length,
            }
            name = name or "mock"
        engine = await asyncio.to_thread(build_engine, config.backend, path, name, **options)
        if engine.info.name in models.engines:
            raise ValueError(
                f"two models are named {engine.info.name!r}; give each a distinct name"
            )
        models.engines[engine.info.name] = engine
        models.default = models.default or engine.info.name
    if config.embeddings:
        from sage_llm.embeddings import SentenceEmbedder

        models.embedder = await asyncio.to_thread(SentenceEmbedder)
    log.info("serving models %s", models.metadata())
    return models
