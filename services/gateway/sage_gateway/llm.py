"""The gateway's calls to the LLM service (``sage.llm.v1.LLMService``), all async.

Written on the SDK's channel layer (``sage_client.channels.AsyncServiceChannels`` with the LLM
stub) until the SDK has an async LLM client; this module is the one place to switch over. One
retry policy, the channel's: a call that is UNAVAILABLE is tried on another instance (up to the
channel's ``max_attempts`` instances) when repeating it cannot do anything twice: idempotent
calls (``ListModels``, ``Embed``), a generation stream that failed before it yielded anything,
and a unary generation that never reached an instance (gRPC could not connect). A generation
that failed after its first token, or while an instance had it, is not repeated.

Instances publish the names of their models in their etcd metadata; a generation naming a model
goes only to instances that serve it (as ``sage_client.llm.LLMClient`` routes).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import grpc

from sage_client.channels import AsyncServiceChannels
from sage_client.discovery import Instance, NoInstances, Resolver
from sage_client.errors import Unavailable
from sage_client.llm.client import FINISH_NAMES, sampling_message
from sage_proto.llm.v1 import llm_pb2, llm_pb2_grpc

Pool = AsyncServiceChannels[llm_pb2_grpc.LLMServiceStub]
Prompt = str | Sequence[Mapping[str, str]]  # a plain prompt (completions) or chat messages


def _serves(instance: Instance, model: str) -> bool:
    models = instance.metadata.get("models") if instance.metadata else None
    return models is None or model in models


def usage_dict(u: llm_pb2.Usage) -> dict[str, int]:
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
    }


class GatewayLLM:
    """Channels to the LLM instances, one pool per model named (create it in the serving loop)."""

    def __init__(
        self,
        *,
        timeout: float | None,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
    ) -> None:
        self.timeout = timeout
        self._settings: dict[str, Any] = {
            "address": address,
            "resolver": resolver,
            "token": token,
            "timeout": timeout,
        }
        self._pools: dict[str, Pool] = {}

    def pool(self, model: str = "") -> Pool:
        """The channels to the instances serving ``model`` (every instance for ``""``)."""
        pool = self._pools.get(model)
        if pool is None:
            pool = AsyncServiceChannels("llm", llm_pb2_grpc.LLMServiceStub, **self._settings)
            if model:
                pool.filter = lambda inst, m=model: _serves(inst, m)
            self._pools[model] = pool
        return pool

    async def list_models(self) -> llm_pb2.ListModelsResponse:
        return await self.pool().call("ListModels", llm_pb2.ListModelsRequest(), idempotent=True)

    async def embed(self, texts: list[str], model: str) -> llm_pb2.EmbedResponse:
        return await self.pool().call(
            "Embed", llm_pb2.EmbedRequest(model=model, texts=texts), idempotent=True
        )

    async def whole(
        self, prompt: Prompt, *, model: str, timeout: float | None, sampling: Mapping[str, Any]
    ) -> llm_pb2.ChatResponse | llm_pb2.GenerateResponse:
        """The generation in one unary call (``Generate`` for a plain prompt, else ``Chat``)."""
        if isinstance(prompt, str):
            method = "Generate"
            request: Any = llm_pb2.GenerateRequest(
                model=model, prompt=prompt, sampling=sampling_message(sampling)
            )
        else:
            method = "Chat"
            request = llm_pb2.ChatRequest(
                model=model, messages=_messages(prompt), sampling=sampling_message(sampling)
            )
        pool, timeout = self.pool(model), timeout or self.timeout
        tried: set[str] = set()
        while True:
            addr, stub = _pick(pool, tried)
            try:
                return await getattr(stub, method)(request, timeout=timeout, metadata=pool.metadata)
            except grpc.RpcError as exc:
                tried.add(addr)
                if not (_never_reached(exc) and _another(pool, tried)):
                    raise pool.rpc_error(exc, method, timeout) from None

    async def deltas(
        self, prompt: Prompt, *, model: str, timeout: float | None, sampling: Mapping[str, Any]
    ) -> AsyncGenerator[llm_pb2.ChatStreamResponse, None]:
        """The generation's stream messages (``delta``, ``finish_reason``, ``usage``, ``model``).
        Leaving the iteration early (``aclose``, or the task cancelled) cancels the call, which
        stops decoding on the instance."""
        if isinstance(prompt, str):
            method = "GenerateStream"
            request: Any = llm_pb2.GenerateStreamRequest(
                model=model, prompt=prompt, sampling=sampling_message(sampling)
            )
        else:
            method = "ChatStream"
            request = llm_pb2.ChatStreamRequest(
                model=model, messages=_messages(prompt), sampling=sampling_message(sampling)
            )
        pool, timeout = self.pool(model), timeout or self.timeout
        tried: set[str] = set()
        while True:
            addr, stub = _pick(pool, tried)
            call = getattr(stub, method)(request, timeout=timeout, metadata=pool.metadata)
            produced = False
            try:
                async for message in call:
                    produced = True
                    yield message
                return
            except grpc.RpcError as exc:
                tried.add(addr)
                if (
                    produced
                    or exc.code() != grpc.StatusCode.UNAVAILABLE
                    or not _another(pool, tried)
                ):
                    raise pool.rpc_error(exc, method, timeout) from None
            finally:
                call.cancel()

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()


def finish_name(reason: llm_pb2.FinishReason) -> str | None:
    return FINISH_NAMES[reason]


def _messages(messages: Sequence[Mapping[str, str]]) -> list[llm_pb2.ChatMessage]:
    return [llm_pb2.ChatMessage(role=m["role"], content=m["content"]) for m in messages]


def _pick(pool: Pool, tried: set[str]) -> tuple[str, llm_pb2_grpc.LLMServiceStub]:
    try:
        return pool.pick(tried)
    except NoInstances as exc:
        raise Unavailable(str(exc)) from None


def _another(pool: Pool, tried: set[str]) -> bool:
    """Whether the channel's policy lets a call that failed on ``tried`` go to another instance."""
    if len(tried) >= pool.max_attempts:
        return False
    try:
        pool.pick(tried)
    except (Unavailable, NoInstances):
        return False
    return True


def never_reached(message: str) -> bool:
    """Whether a unary generation that failed UNAVAILABLE with ``message`` never reached an
    instance: gRPC could not connect (an instance that died while generating says "Socket
    closed" instead, and may have done part of the work, so that one is not repeated)."""
    return "connect" in message.lower()


def _never_reached(exc: grpc.RpcError) -> bool:
    return exc.code() == grpc.StatusCode.UNAVAILABLE and never_reached(exc.details() or "")
