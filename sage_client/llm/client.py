"""Typed clients of ``sage.llm.v1.LLMService``, routed by model name: ``LLMClient`` (blocking) and
``AsyncLLMClient``, both derived from one definition of each method (``_LLMCalls``).

    llm = LLMClient()                                  # SAGE_LLM_ADDR or SAGE_ETCD_ENDPOINTS
    llm.generate("Hello", max_tokens=20)["text"]
    for piece in llm.stream("Tell a story", model="SmolLM2-135M-Instruct.Q4_1"):
        print(piece, end="")

Instances publish the names of their models in their etcd metadata; a call naming a model goes
only to instances that serve it (instances without that metadata, e.g. static addresses, take all).

Retries (the channel layer's policy, ``sage_client.channels``): an instance that is UNAVAILABLE
is replaced by another (up to the pool's ``max_attempts``) for the idempotent calls, for a
generation stream that failed before its first message, and for a unary generation that never
reached the instance (gRPC could not connect). A generation that failed after its first token,
or while an instance had it, is not repeated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from sage_client.calls import Stream, Unary, awaited, awaited_stream, blocking, blocking_stream
from sage_client.channels import AsyncServiceChannels, ServiceChannels, _Pool
from sage_client.codec.sampling import SAMPLING_FIELDS as SAMPLING_FIELDS  # re-exported
from sage_client.codec.sampling import sampling_message
from sage_client.codec.vectors import vectors_view
from sage_client.discovery import Instance, Resolver
from sage_proto.llm.v1 import llm_pb2, llm_pb2_grpc

T = TypeVar("T")
C = TypeVar("C", bound=_Pool[Any])
FINISH_NAMES = {
    llm_pb2.FINISH_REASON_UNSPECIFIED: None,
    llm_pb2.FINISH_REASON_STOP: "stop",
    llm_pb2.FINISH_REASON_LENGTH: "length",
    llm_pb2.FINISH_REASON_CANCELLED: "cancelled",
}


def _usage(u: llm_pb2.Usage) -> dict[str, int]:
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
    }


def _messages(messages: Sequence[Mapping[str, str]]) -> list[llm_pb2.ChatMessage]:
    return [llm_pb2.ChatMessage(role=m["role"], content=m["content"]) for m in messages]


@dataclass(frozen=True)
class Embeddings:
    """An Embed reply: ``packed`` float32 rows of ``dimension`` values, made by ``model``."""

    packed: bytes
    dimension: int
    model: str

    @property
    def vectors(self) -> np.ndarray:
        return vectors_view(self.packed, -1, self.dimension)


def _completion(reply: Any) -> dict[str, Any]:
    return {
        "text": reply.text,
        "finish_reason": FINISH_NAMES[reply.finish_reason],
        "usage": _usage(reply.usage),
        "model": reply.model,
    }


def _chat_completion(reply: Any) -> dict[str, Any]:
    return {
        "text": reply.message.content,
        "finish_reason": FINISH_NAMES[reply.finish_reason],
        "usage": _usage(reply.usage),
        "model": reply.model,
    }


def _delta(msg: Any) -> tuple[dict[str, Any]]:
    finish = FINISH_NAMES[msg.finish_reason]
    return (
        {
            "text": msg.delta,
            "finish_reason": finish,
            "usage": _usage(msg.usage) if finish else None,
            "model": msg.model,
        },
    )


def _text(msg: Any) -> tuple[str, ...]:
    return (msg.delta,) if msg.delta else ()


def _models(reply: Any) -> list[dict[str, Any]]:
    kinds = {llm_pb2.MODEL_KIND_GENERATION: "generation", llm_pb2.MODEL_KIND_EMBEDDING: "embedding"}
    return [
        {
            "name": m.name,
            "kind": kinds.get(m.kind, "unknown"),
            "engine": m.engine,
            "device": m.device,
            "context_length": m.context_length,
            "dimension": m.dimension,
        }
        for m in reply.models
    ]


def _stream_call(
    prompt: str | Sequence[Mapping[str, str]],
    model: str,
    timeout: float | None,
    sampling: Mapping[str, Any],
    items: Callable[[Any], Iterable[T]],
) -> Stream[T]:
    if isinstance(prompt, str):
        request: Any = llm_pb2.GenerateStreamRequest(
            model=model, prompt=prompt, sampling=sampling_message(sampling)
        )
        return Stream("GenerateStream", request, items, timeout, route=model, retry_unstarted=True)
    request = llm_pb2.ChatStreamRequest(
        model=model, messages=_messages(prompt), sampling=sampling_message(sampling)
    )
    return Stream("ChatStream", request, items, timeout, route=model, retry_unstarted=True)


class _LLMCalls(Generic[C]):
    """Every LLM method, written once; calls naming a model go to a pool of the instances serving it."""

    _settings: dict[str, Any]
    _pools: dict[str, C]

    def _new_pool(self) -> C:
        raise NotImplementedError

    def _channels(self, model: str) -> C:
        pool = self._pools.get(model)
        if pool is None:
            pool = self._new_pool()
            if model:
                pool.filter = lambda inst, m=model: _serves(inst, m)
            self._pools[model] = pool
        return pool

    def _generate(
        self, prompt: str, *, model: str = "", timeout: float | None = None, **sampling: Any
    ) -> Unary[dict[str, Any]]:
        request = llm_pb2.GenerateRequest(
            model=model, prompt=prompt, sampling=sampling_message(sampling)
        )
        return Unary(
            "Generate", request, False, _completion, timeout, route=model, retry_unreached=True
        )

    def _chat(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        model: str = "",
        timeout: float | None = None,
        **sampling: Any,
    ) -> Unary[dict[str, Any]]:
        request = llm_pb2.ChatRequest(
            model=model, messages=_messages(messages), sampling=sampling_message(sampling)
        )
        return Unary(
            "Chat", request, False, _chat_completion, timeout, route=model, retry_unreached=True
        )

    def _stream_deltas(
        self,
        prompt: str | Sequence[Mapping[str, str]],
        *,
        model: str = "",
        timeout: float | None = None,
        **sampling: Any,
    ) -> Stream[dict[str, Any]]:
        """Every streamed message as ``{"text", "finish_reason", "usage"}``; the last has both set.
        Closing the iterator early cancels the call, which stops decoding on the server."""
        return _stream_call(prompt, model, timeout, sampling, _delta)

    def _stream(
        self,
        prompt: str | Sequence[Mapping[str, str]],
        *,
        model: str = "",
        timeout: float | None = None,
        **sampling: Any,
    ) -> Stream[str]:
        """The streamed text, piece by piece."""
        return _stream_call(prompt, model, timeout, sampling, _text)

    def _embed(self, texts: Sequence[str], *, model: str = "") -> Unary[np.ndarray]:
        """float32 [len(texts), dimension], unit-length rows, decoded from one packed buffer."""
        n = len(texts)
        return Unary(
            "Embed",
            llm_pb2.EmbedRequest(model=model, texts=list(texts)),
            True,
            lambda reply: vectors_view(reply.vectors, n, reply.dimension),
        )

    def _embeddings(self, texts: Sequence[str], *, model: str = "") -> Unary[Embeddings]:
        """The Embed reply as it came: packed vectors, their dimension, the model that made them."""
        return Unary(
            "Embed",
            llm_pb2.EmbedRequest(model=model, texts=list(texts)),
            True,
            lambda reply: Embeddings(bytes(reply.vectors), reply.dimension, reply.model),
        )

    def _models(self) -> Unary[list[dict[str, Any]]]:
        return Unary("ListModels", llm_pb2.ListModelsRequest(), True, _models)

    def _tokenize(self, text: str, *, model: str = "") -> Unary[list[int]]:
        request = llm_pb2.TokenizeRequest(model=model, text=text)
        return Unary("Tokenize", request, True, lambda reply: list(reply.token_ids), route=model)

    def _count_tokens(self, texts: Sequence[str], *, model: str = "") -> Unary[list[int]]:
        request = llm_pb2.CountTokensRequest(model=model, texts=list(texts))
        return Unary("CountTokens", request, True, lambda reply: list(reply.counts), route=model)


class LLMClient(_LLMCalls[ServiceChannels[llm_pb2_grpc.LLMServiceStub]]):
    """Blocking client of ``sage.llm.v1.LLMService``."""

    def __init__(
        self,
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 300.0,
    ) -> None:
        self._settings = {
            "address": address,
            "resolver": resolver,
            "token": token,
            "timeout": timeout,
        }
        self._pools = {}

    def _new_pool(self) -> ServiceChannels[llm_pb2_grpc.LLMServiceStub]:
        return ServiceChannels("llm", llm_pb2_grpc.LLMServiceStub, **self._settings)

    def _pool(self, model: str) -> ServiceChannels[llm_pb2_grpc.LLMServiceStub]:
        return self._channels(model)

    generate = blocking(_LLMCalls._generate)
    chat = blocking(_LLMCalls._chat)
    stream_deltas = blocking_stream(_LLMCalls._stream_deltas)
    stream = blocking_stream(_LLMCalls._stream)
    embed = blocking(_LLMCalls._embed)
    embeddings = blocking(_LLMCalls._embeddings)
    models = blocking(_LLMCalls._models)
    tokenize = blocking(_LLMCalls._tokenize)
    count_tokens = blocking(_LLMCalls._count_tokens)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncLLMClient(_LLMCalls[AsyncServiceChannels[llm_pb2_grpc.LLMServiceStub]]):
    """asyncio client of ``sage.llm.v1.LLMService``; same methods as LLMClient, awaited (the
    streams are async iterators). Create it inside the event loop that uses it."""

    def __init__(
        self,
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 300.0,
    ) -> None:
        self._settings = {
            "address": address,
            "resolver": resolver,
            "token": token,
            "timeout": timeout,
        }
        self._pools = {}

    def _new_pool(self) -> AsyncServiceChannels[llm_pb2_grpc.LLMServiceStub]:
        return AsyncServiceChannels("llm", llm_pb2_grpc.LLMServiceStub, **self._settings)

    generate = awaited(_LLMCalls._generate)
    chat = awaited(_LLMCalls._chat)
    stream_deltas = awaited_stream(_LLMCalls._stream_deltas)
    stream = awaited_stream(_LLMCalls._stream)
    embed = awaited(_LLMCalls._embed)
    embeddings = awaited(_LLMCalls._embeddings)
    models = awaited(_LLMCalls._models)
    tokenize = awaited(_LLMCalls._tokenize)
    count_tokens = awaited(_LLMCalls._count_tokens)

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()

    async def __aenter__(self) -> AsyncLLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _serves(instance: Instance, model: str) -> bool:
    models = instance.metadata.get("models") if instance.metadata else None
    return models is None or model in models
