"""SageLLMGenerator: the pipeline's entry point to a language model.

Usable alone (``SageLLMGenerator(model_path=..., backend_type="auto").execute("...")``) and as a
DataStream map function. Without a mesh the engine runs in this process (loaded through the
``sage_mesh.embedded`` entry point); with ``mesh=`` (True for discovery from the environment, an
address, or an LLMClient) the mesh's LLM service generates, routed by ``model`` name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sage_client.codec.sampling import SAMPLING_FIELDS
from sage_client.dataflow.api.functions import MapFunction
from sage_client.llm.embedded import load_embedded_llm
from sage_client.llm.service_backend import ServiceLLM, client_for_mesh

SAMPLING_KEYS = SAMPLING_FIELDS
ENGINE_KEYS = (
    "backend_type",
    "model_path",
    "ttft_s",
    "tokens_per_s",
    "max_batch_size",
    "max_queue",
)
OTHER_KEYS = frozenset({"mesh", "model", "chat_template"})
BACKEND_TYPES = ("auto", "mock", "transformers", "cpu", "cuda", "vllm", "ascend", "llamacpp")


class SageLLMGenerator(MapFunction):
    """Generate text for each record.

    ``execute`` accepts a prompt string, a list of chat messages (``{"role", "content"}``), or the
    SAGE pair ``[query, prompt]`` (then it returns ``(query, answer)``). A prompt string goes
    through the model's chat template as one user message, like OpenAI-style chat servers do;
    ``chat_template=False`` sends it as a raw completion prompt instead. The constructor takes a
    config dict, as SAGE operators do, and/or keyword arguments (keywords win).
    """

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        model_path: str | None = None,
        backend_type: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        merged: dict[str, Any] = dict(config or {})
        explicit = {
            "model_path": model_path,
            "backend_type": backend_type,
            "temperature": temperature,
            "max_tokens": max_tokens,
            **options,
        }
        merged.update({k: v for k, v in explicit.items() if v is not None})
        merged.setdefault("backend_type", "auto")
        merged.setdefault("temperature", 0.7)
        merged.setdefault("max_tokens", 256)
        merged.setdefault("chat_template", True)
        unknown = set(merged) - set(SAMPLING_KEYS) - set(ENGINE_KEYS) - OTHER_KEYS
        if unknown:
            raise ValueError(
                f"unknown SageLLMGenerator option(s) {sorted(unknown)}; known: "
                f"{sorted({*SAMPLING_KEYS, *ENGINE_KEYS, *OTHER_KEYS})}"
            )
        if merged["backend_type"] not in BACKEND_TYPES:
            raise ValueError(
                f"backend_type must be one of {list(BACKEND_TYPES)}, got {merged['backend_type']!r}"
            )
        self.config = merged
        self.sampling = {k: merged[k] for k in SAMPLING_KEYS if k in merged}
        self._backend: Any = None  # created on first use: a map function is built before it runs

    # ---- MapFunction-style hooks ---------------------------------------------------------------

    def open(self) -> None:
        self._ensure_backend()

    def close(self) -> None:
        self._backend = None

    def execute(self, data: Any) -> Any:
        if isinstance(data, str):
            return self._complete(data)
        if _is_messages(data):
            return self._complete(data)
        if isinstance(data, list | tuple) and len(data) == 2 and not _is_messages(data):
            query, prompt = data
            return query, self._complete(prompt)
        raise TypeError(
            "SageLLMGenerator.execute takes a prompt string, a list of chat messages "
            f"({{'role','content'}} dicts), or a [query, prompt] pair; got {type(data).__name__}"
        )

    # ---- direct use ---------------------------------------------------------------------------

    def generate(
        self, prompt: str | Sequence[Mapping[str, str]], **overrides: Any
    ) -> dict[str, Any]:
        """Full result: ``{"text", "finish_reason", "usage"}``."""
        backend = self._ensure_backend()
        params = {**self.sampling, **overrides}
        if isinstance(prompt, str) and not self.config["chat_template"]:
            return dict(backend.generate(prompt, params))
        return dict(backend.chat(_as_messages(prompt), params))

    def stream(self, prompt: str | Sequence[Mapping[str, str]], **overrides: Any) -> Iterator[str]:
        """Yield text pieces as the model decodes them."""
        backend = self._ensure_backend()
        params = {**self.sampling, **overrides}
        if isinstance(prompt, str) and not self.config["chat_template"]:
            deltas = backend.stream(prompt, params)
        else:
            deltas = backend.stream_chat(_as_messages(prompt), params)
        for delta in deltas:
            if delta["text"]:
                yield delta["text"]

    def _complete(self, prompt: str | Sequence[Mapping[str, str]]) -> str:
        return str(self.generate(prompt)["text"])

    def _ensure_backend(self) -> Any:
        if self._backend is None:
            mesh = self.config.get("mesh")
            if mesh:
                self._backend = ServiceLLM(
                    client_for_mesh(mesh), str(self.config.get("model") or "")
                )
                return self._backend
            self._backend = load_embedded_llm(
                {k: self.config[k] for k in ENGINE_KEYS if k in self.config}
            )
        return self._backend

    def __getstate__(self) -> dict[str, Any]:
        # Shipped to workers as config only; each worker loads (or shares) its own engine.
        return {"config": self.config, "sampling": self.sampling, "_backend": None, "ctx": None}


def _as_messages(prompt: str | Sequence[Mapping[str, str]]) -> list[Mapping[str, str]]:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def _is_messages(data: Any) -> bool:
    return (
        isinstance(data, list | tuple)
        and len(data) > 0
        and all(isinstance(m, Mapping) and "role" in m and "content" in m for m in data)
    )
