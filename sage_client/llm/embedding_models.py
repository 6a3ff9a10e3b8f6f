"""Embedding models by method name, as SAGE programs ask for them.

    model = get_embedding_model("hash", dim=128)      # deterministic, no model files
    model.embed("text") -> list[float];  model.embed_batch([...]);  model.get_dim()

Methods: ``hash`` (token feature hashing, ``dim`` default 384), ``mockembedder`` (a
deterministic pseudo-random unit vector per text, ``fixed_dim`` default 128), ``hf`` /
``default`` / ``local`` (the mesh's sentence model, all-MiniLM-L6-v2, run in this process;
other ``model=`` names are refused, as nothing is downloaded), ``mesh`` (the same model served
by the mesh's LLM service) and ``openai`` (any OpenAI-compatible ``/v1/embeddings``: the
gateway; ``base_url``/``api_key`` or ``OPENAI_BASE_URL``/``OPENAI_API_KEY``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sage_client.codec.embedding import EMBEDDING_DIMENSION, EMBEDDING_MODEL
from sage_client.dataflow.api.service import BaseService
from sage_client.llm.embeddings import EmbeddingClient

_TOKEN = re.compile(r"\w+", re.UNICODE)
_LOCAL_NAMES = {
    EMBEDDING_MODEL,
    f"sentence-transformers/{EMBEDDING_MODEL}",
    "default",
}


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def _hash_vectors(texts: Sequence[str], dim: int) -> np.ndarray:
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for token in _TOKEN.findall(text.lower()) or [text]:
            digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            out[row, value % dim] += 1.0 if (value >> 63) & 1 else -1.0
    return _unit(out)


def _mock_vectors(texts: Sequence[str], dim: int) -> np.ndarray:
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        rows.append(np.random.default_rng(seed).standard_normal(dim))
    return _unit(np.asarray(rows, dtype=np.float32).reshape(len(texts), dim))


class EmbeddingModel:
    """One embedding method: ``embed(text)``, ``embed_batch(texts)``, ``get_dim()``,
    ``method_name``. Vectors are unit length (cosine = dot product)."""

    def __init__(self, method: str = "default", **kwargs: Any) -> None:
        self.init_method = method
        name = {"default": "hf", "local": "hf"}.get(method, method)
        if name not in _METHODS:
            raise ValueError(
                f"unknown embedding method {method!r}; available: {sorted(list_embedding_models())}"
            )
        self.method = name
        self.kwargs = kwargs
        self._batch, self.dim = _METHODS[name](kwargs)

    @property
    def method_name(self) -> str:
        return self.init_method

    def __repr__(self) -> str:
        return f"EmbeddingModel(method={self.init_method!r}, dim={self.dim})"

    def get_dim(self) -> int:
        return self.dim

    def embed_batch(self, texts: Sequence[str]) -> list[list[float]]:
        if isinstance(texts, str):
            raise TypeError("embed_batch takes a list of texts; use embed(text) for one")
        return [list(map(float, v)) for v in self._batch(list(texts))]

    def embed(self, text: str) -> list[float]:
        return self.embed_batch([text])[0]

    encode = embed

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """The same vectors as one float32 array (what the vector stores take)."""
        return np.asarray(self._batch(list(texts)), dtype=np.float32)


def _hash(kw: dict[str, Any]) -> tuple[Callable[[list[str]], np.ndarray], int]:
    dim = int(kw.get("dim", kw.get("fixed_dim", EMBEDDING_DIMENSION)))
    return (lambda texts: _hash_vectors(texts, dim)), dim


def _mock(kw: dict[str, Any]) -> tuple[Callable[[list[str]], np.ndarray], int]:
    dim = int(kw.get("fixed_dim", kw.get("dim", 128)))
    return (lambda texts: _mock_vectors(texts, dim)), dim


def _local(kw: dict[str, Any]) -> tuple[Callable[[list[str]], np.ndarray], int]:
    model = kw.get("model") or EMBEDDING_MODEL
    if model not in _LOCAL_NAMES:
        raise ValueError(
            f"embedding model {model!r} is not available here (nothing is downloaded); the "
            f"local model is {EMBEDDING_MODEL!r} — or use method 'hash' / 'mockembedder' in tests"
        )
    client = EmbeddingClient()
    return client.embed, EMBEDDING_DIMENSION


def _mesh(kw: dict[str, Any]) -> tuple[Callable[[list[str]], np.ndarray], int]:
    client = EmbeddingClient(mesh=kw.get("address", True))
    return client.embed, EMBEDDING_DIMENSION


def _openai(kw: dict[str, Any]) -> tuple[Callable[[list[str]], np.ndarray], int]:
    base = (kw.get("base_url") or os.environ.get("OPENAI_BASE_URL") or "").rstrip("/")
    if not base:
        raise ValueError("the openai embedding method needs base_url (or OPENAI_BASE_URL)")
    key = kw.get("api_key") or os.environ.get("OPENAI_API_KEY", "")
    model = kw.get("model") or EMBEDDING_MODEL

    def embed(texts: list[str]) -> np.ndarray:
        request = urllib.request.Request(
            f"{base}/embeddings",
            data=json.dumps({"model": model, "input": texts}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            body = json.loads(reply.read())
        rows = sorted(body["data"], key=lambda d: d["index"])
        return np.asarray([r["embedding"] for r in rows], dtype=np.float32)

    return embed, int(kw.get("dim", EMBEDDING_DIMENSION))


_METHODS: dict[str, Callable[[dict[str, Any]], tuple[Callable[[list[str]], np.ndarray], int]]] = {
    "hash": _hash,
    "mockembedder": _mock,
    "hf": _local,
    "mesh": _mesh,
    "openai": _openai,
}
_DESCRIPTIONS = {
    "hash": "token feature hashing; deterministic, no model (dim=384)",
    "mockembedder": "a pseudo-random unit vector per text; for tests (fixed_dim=128)",
    "hf": f"{EMBEDDING_MODEL} in this process (also 'default', 'local')",
    "mesh": f"{EMBEDDING_MODEL} on the mesh's LLM service",
    "openai": "an OpenAI-compatible /v1/embeddings server (the mesh's gateway)",
}


def get_embedding_model(method: str = "default", **kwargs: Any) -> EmbeddingModel:
    return EmbeddingModel(method, **kwargs)


def apply_embedding_model(name: str = "default", **kwargs: Any) -> EmbeddingModel:
    """SAGE's older spelling of ``get_embedding_model``."""
    return EmbeddingModel(name, **kwargs)


def list_embedding_models() -> dict[str, dict[str, Any]]:
    """Each method with SAGE's fields: display_name, description, requires_api_key,
    requires_download (always False: nothing is downloaded), default_dimension, examples."""
    return {
        name: {
            "display_name": name,
            "description": _DESCRIPTIONS[name],
            "requires_api_key": name == "openai",
            "requires_download": False,
            "default_dimension": {"mockembedder": 128}.get(name, EMBEDDING_DIMENSION),
            "examples": [EMBEDDING_MODEL] if name in ("hf", "mesh", "openai") else [],
        }
        for name in _METHODS
    }


def check_model_availability(method: str, **kwargs: Any) -> dict[str, Any]:
    """``{"status": "available" | "needs_config" | "unavailable", "message": ...}``."""
    if method in ("hash", "mockembedder"):
        return {"status": "available", "message": "built in"}
    if method == "openai" and not (kwargs.get("base_url") or os.environ.get("OPENAI_BASE_URL")):
        return {"status": "needs_config", "message": "set base_url or OPENAI_BASE_URL"}
    if method in ("hf", "default", "local"):
        model = kwargs.get("model") or EMBEDDING_MODEL
        if model not in _LOCAL_NAMES:
            return {"status": "unavailable", "message": f"only {EMBEDDING_MODEL} is local"}
    if method not in _METHODS and method not in ("default", "local"):
        return {"status": "unavailable", "message": f"unknown method {method!r}"}
    return {"status": "available", "message": "configured"}


class EmbeddingService(BaseService):
    """SAGE's ``EmbeddingService(config)``: an embedding model as a pipeline service.

    ``config``: ``method`` (see the methods above), ``model``, ``dimension``/``dim``,
    ``normalize`` (vectors are unit length either way), ``cache_enabled``, ``cache_size``.
    ``process({"task": "embed" | "info" | "methods", "inputs": ..., "options": ...})``."""

    thread_safe = False

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.config = dict(config or {})
        self.method = str(self.config.get("method", "default"))
        self._model: EmbeddingModel | None = None
        self._cache: dict[str, list[float]] = {}
        self._cache_on = bool(self.config.get("cache_enabled", False))
        self._cache_size = int(self.config.get("cache_size", 10_000))

    def setup(self) -> None:
        kwargs = {k: self.config[k] for k in ("model", "api_key", "base_url") if self.config.get(k)}
        dim = self.config.get("dimension", self.config.get("dim"))
        if dim:
            kwargs["dim"] = kwargs["fixed_dim"] = int(dim)
        self._model = EmbeddingModel(self.method, **kwargs)

    def cleanup(self) -> None:
        self._cache.clear()

    def _ensure(self) -> EmbeddingModel:
        if self._model is None:
            self.setup()
        assert self._model is not None
        return self._model

    def embed(
        self, texts: str | Sequence[str], return_stats: bool = False, **_: Any
    ) -> dict[str, Any]:
        items = [texts] if isinstance(texts, str) else list(texts)
        missing = [t for t in dict.fromkeys(items) if t not in self._cache]
        fresh = dict(zip(missing, self._ensure().embed_batch(missing), strict=True))
        vectors = [fresh[t] if t in fresh else self._cache[t] for t in items]
        if self._cache_on:
            for text, vector in fresh.items():
                if len(self._cache) < self._cache_size:
                    self._cache[text] = vector
        result: dict[str, Any] = {
            "vectors": vectors,
            "dimension": self._ensure().get_dim(),
            "count": len(items),
            "method": self.method,
        }
        if return_stats:
            cached = len(items) - sum(1 for t in items if t in fresh)
            result["stats"] = {
                "computed": len(fresh),
                "cached": cached,
                "cache_hit_rate": cached / len(items) if items else 0.0,
            }
        return result

    def get_dimension(self) -> int:
        return self._ensure().get_dim()

    def get_info(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "model": self.config.get("model"),
            "dimension": self.get_dimension(),
            "cache_enabled": self._cache_on,
        }

    def list_methods(self) -> list[str]:
        return sorted(list_embedding_models())

    def process(self, payload: dict[str, Any] | None = None) -> Any:
        task = (payload or {}).get("task", "embed")
        if task == "info":
            return self.get_info()
        if task == "methods":
            return self.list_methods()
        if task == "embed":
            options = dict((payload or {}).get("options") or {})
            return self.embed((payload or {}).get("inputs") or [], **options)
        raise ValueError(f"EmbeddingService task must be embed, info or methods; got {task!r}")
