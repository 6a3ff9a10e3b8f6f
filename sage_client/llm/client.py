"""LLMClient: blocking client of ``sage.llm.v1.LLMService``, routed by model name.

    llm = LLMClient()                                  # SAGE_LLM_ADDR or SAGE_ETCD_ENDPOINTS
    llm.generate("Hello", max_tokens=20)["text"]
    for piece in llm.stream("Tell a story", model="SmolLM2-135M-Instruct.Q4_1"):
        print(piece, end="")

Instances publish the names of their models in their etcd metadata; a call naming a model goes
only to instances that serve it (instances without that metadata, e.g. static addresses, take all).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import grpc
import numpy as np

from sage_client.channels import ServiceChannels
from sage_client.discovery import Instance, Resolver
from sage_proto.llm.v1 import llm_pb2, llm_pb2_grpc

SAMPLING_FIELDS = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "stop",
    "seed",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
)
FINISH_NAMES = {
    llm_pb2.FINISH_REASON_UNSPECIFIED: None,
    llm_pb2.FINISH_REASON_STOP: "stop",
    llm_pb2.FINISH_REASON_LENGTH: "length",
    llm_pb2.FINISH_REASON_CANCELLED: "cancelled",
}


def sampling_message(params: Mapping[str, Any]) -> llm_pb2.SamplingParams:
    unknown = set(params) - set(SAMPLING_FIELDS)
    if unknown:
        raise ValueError(f"unknown sampling parameter(s) {sorted(unknown)}; known: {list(SAMPLING_FIELDS)}")
    msg = llm_pb2.SamplingParams()
    for name, value in params.items():
        if value is None:
            continue
        if name == "stop":
            msg.stop.extend([value] if isinstance(value, str) else list(value))
        else:
            setattr(msg, name, value)
    return msg


def _usage(u: llm_pb2.Usage) -> dict[str, int]:
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens}


def _messages(messages: Sequence[Mapping[str, str]]) -> list[llm_pb2.ChatMessage]:
    return [llm_pb2.ChatMessage(role=m["role"], content=m["content"]) for m in messages]


class LLMClient:
    def __init__(
        self,
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 300.0,
    ) -> None:
        self._settings = {"address": address, "resolver": resolver, "token": token, "timeout": timeout}
        self._pools: dict[str, ServiceChannels[llm_pb2_grpc.LLMServiceStub]] = {}

    def _pool(self, model: str) -> ServiceChannels[llm_pb2_grpc.LLMServiceStub]:
        pool = self._pools.get(model)
        if pool is None:
            pool = ServiceChannels("llm", llm_pb2_grpc.LLMServiceStub, **self._settings)  # type: ignore[arg-type]
            if model:
                pool.filter = lambda inst, m=model: _serves(inst, m)
            self._pools[model] = pool
        return pool

    def generate(self, prompt: str, *, model: str = "", timeout: float | None = None, **sampling: Any) -> dict[str, Any]:
        request = llm_pb2.GenerateRequest(model=model, prompt=prompt, sampling=sampling_message(sampling))
        reply = self._pool(model).call("Generate", request, idempotent=False, timeout=timeout)
        return {"text": reply.text, "finish_reason": FINISH_NAMES[reply.finish_reason],
                "usage": _usage(reply.usage), "model": reply.model}

    def chat(self, messages: Sequence[Mapping[str, str]], *, model: str = "", timeout: float | None = None,
             **sampling: Any) -> dict[str, Any]:
        request = llm_pb2.ChatRequest(model=model, messages=_messages(messages), sampling=sampling_message(sampling))
        reply = self._pool(model).call("Chat", request, idempotent=False, timeout=timeout)
        return {"text": reply.message.content, "finish_reason": FINISH_NAMES[reply.finish_reason],
                "usage": _usage(reply.usage), "model": reply.model}

    def stream_deltas(self, prompt: str | Sequence[Mapping[str, str]], *, model: str = "",
                      timeout: float | None = None, **sampling: Any) -> Iterator[dict[str, Any]]:
        """Every streamed message as ``{"text", "finish_reason", "usage"}``; the last has both set.
        Closing the iterator early cancels the call, which stops decoding on the server."""
        if isinstance(prompt, str):
            method = "GenerateStream"
            request: Any = llm_pb2.GenerateStreamRequest(model=model, prompt=prompt, sampling=sampling_message(sampling))
        else:
            method = "ChatStream"
            request = llm_pb2.ChatStreamRequest(model=model, messages=_messages(prompt), sampling=sampling_message(sampling))
        pool = self._pool(model)
        call = pool.stream(method, request, timeout=timeout)
        try:
            for msg in call:
                finish = FINISH_NAMES[msg.finish_reason]
                yield {"text": msg.delta, "finish_reason": finish,
                       "usage": _usage(msg.usage) if finish else None, "model": msg.model}
        except grpc.RpcError as exc:
            raise pool.rpc_error(exc, method, timeout) from None
        finally:
            call.cancel()

    def stream(self, prompt: str | Sequence[Mapping[str, str]], *, model: str = "", timeout: float | None = None,
               **sampling: Any) -> Iterator[str]:
        for delta in self.stream_deltas(prompt, model=model, timeout=timeout, **sampling):
            if delta["text"]:
                yield delta["text"]

    def embed(self, texts: Sequence[str], *, model: str = "") -> np.ndarray:
        """float32 [len(texts), dimension], unit-length rows, decoded from one packed buffer."""
        reply = self._pool("").call("Embed", llm_pb2.EmbedRequest(model=model, texts=list(texts)), idempotent=True)
        return np.frombuffer(reply.vectors, dtype="<f4").reshape(len(texts), reply.dimension)

    def models(self) -> list[dict[str, Any]]:
        reply = self._pool("").call("ListModels", llm_pb2.ListModelsRequest(), idempotent=True)
        kinds = {llm_pb2.MODEL_KIND_GENERATION: "generation", llm_pb2.MODEL_KIND_EMBEDDING: "embedding"}
        return [
            {"name": m.name, "kind": kinds.get(m.kind, "unknown"), "engine": m.engine, "device": m.device,
             "context_length": m.context_length, "dimension": m.dimension}
            for m in reply.models
        ]

    def tokenize(self, text: str, *, model: str = "") -> list[int]:
        request = llm_pb2.TokenizeRequest(model=model, text=text)
        return list(self._pool(model).call("Tokenize", request, idempotent=True).token_ids)

    def count_tokens(self, texts: Sequence[str], *, model: str = "") -> list[int]:
        request = llm_pb2.CountTokensRequest(model=model, texts=list(texts))
        return list(self._pool(model).call("CountTokens", request, idempotent=True).counts)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serves(instance: Instance, model: str) -> bool:
    models = instance.metadata.get("models") if instance.metadata else None
    return models is None or model in models
