"""SAGE's ``UnifiedInferenceClient``: chat, generate and embed against one OpenAI-compatible
endpoint — the mesh's gateway by default (``OPENAI_BASE_URL``, else ``http://localhost:8000/v1``).

    client = UnifiedInferenceClient.create()
    client.chat([{"role": "user", "content": "hi"}])    # -> str
    client.embed(["a", "b"])                              # -> list[list[float]]
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from sage_client.llm.embedding_models import EmbeddingModel
from sage_client.llm.openai_generator import OpenAIGenerator

DEFAULT_URL = "http://localhost:8000/v1"  # the gateway's port in topology.yaml
DEFAULT_MODEL = "sage-default"  # the gateway's alias of its default served model


class UnifiedInferenceClient:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        default_llm_model: str | None = None,
        default_embedding_model: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = (
            api_key or os.environ.get("OPENAI_API_KEY") or os.environ.get("SAGE_CHAT_API_KEY", "")
        )
        self.default_llm_model = default_llm_model or DEFAULT_MODEL
        self.default_embedding_model = default_embedding_model
        self.timeout = timeout
        self._embedder: EmbeddingModel | None = None
        self._llm_available = self._reachable()
        self._embedding_available = self._llm_available

    @classmethod
    def create(
        cls,
        control_plane_url: str | None = None,
        embedded: bool = False,
        default_llm_model: str | None = None,
        default_embedding_model: str | None = None,
        timeout: float = 60.0,
        api_key: str | None = None,
        **_ignored: Any,
    ) -> UnifiedInferenceClient:
        """SAGE's factory; ``control_plane_url`` is the OpenAI-compatible base URL. SAGE's
        scheduling and port-probing options are accepted and ignored (the gateway routes)."""
        return cls(control_plane_url, api_key, default_llm_model, default_embedding_model, timeout)

    def _reachable(self) -> bool:
        request = urllib.request.Request(
            f"{self.base_url}/models", headers={"Authorization": f"Bearer {self.api_key}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=2):
                return True
        except urllib.error.HTTPError as err:
            return err.code < 500  # it answers (maybe 401 without a key): it is there
        except (OSError, ValueError):
            return False

    def _generator(self, model: str | None, **sampling: Any) -> OpenAIGenerator:
        clean = {k: v for k, v in sampling.items() if v is not None}
        return OpenAIGenerator(
            self.base_url,
            model or self.default_llm_model,
            self.api_key,
            timeout_s=self.timeout,
            **clean,
        )

    def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> Any:
        generator = self._generator(
            model, temperature=temperature, max_tokens=max_tokens, top_p=top_p, **kwargs
        )
        if stream:
            return generator.stream(list(messages))
        return generator.generate(list(messages))["text"]

    def generate(self, prompt: str, model: str | None = None, **kwargs: Any) -> str:
        return str(self.chat([{"role": "user", "content": prompt}], model=model, **kwargs))

    def embed(self, texts: str | Sequence[str], model: str | None = None) -> list[list[float]]:
        items = [texts] if isinstance(texts, str) else list(texts)
        if self._embedder is None or model:
            self._embedder = EmbeddingModel(
                "openai",
                base_url=self.base_url,
                api_key=self.api_key,
                model=model or self.default_embedding_model,
            )
        return self._embedder.embed_batch(items)

    def is_llm_available(self) -> bool:
        return self._llm_available

    def is_embedding_available(self) -> bool:
        return self._embedding_available

    def get_status(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "llm_available": self._llm_available,
            "embedding_available": self._embedding_available,
            "default_llm_model": self.default_llm_model,
        }
