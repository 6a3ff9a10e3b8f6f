"""Adapts LLMClient to the small sync interface SageLLMGenerator and EmbeddingClient use, so the
in-process engine and the mesh's service are interchangeable behind them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sage_client.llm.client import LLMClient


def client_for_mesh(mesh: Any) -> LLMClient:
    """``mesh`` is True (discovery from SAGE_LLM_ADDR / SAGE_ETCD_ENDPOINTS), an address
    ("host:port" or a list), or an LLMClient to share."""
    if isinstance(mesh, LLMClient):
        return mesh
    if mesh is True:
        return LLMClient()
    if isinstance(mesh, str | list | tuple):
        return LLMClient(address=mesh)
    raise ValueError(f"mesh must be True, an address 'host:port', or an LLMClient; got {mesh!r}")


class ServiceLLM:
    def __init__(self, client: LLMClient, model: str = "") -> None:
        self._client = client
        self._model = model

    def generate(self, prompt: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._client.generate(prompt, model=self._model, **params)

    def chat(
        self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self._client.chat(messages, model=self._model, **params)

    def stream(self, prompt: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        return self._client.stream_deltas(prompt, model=self._model, **params)

    def stream_chat(
        self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]
    ) -> Iterator[dict[str, Any]]:
        return self._client.stream_deltas(messages, model=self._model, **params)

    def embed(self, texts: Sequence[str]) -> Any:
        return self._client.embed(texts)
