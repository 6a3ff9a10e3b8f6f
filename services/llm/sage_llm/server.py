"""The LLMService servicer: validates at the edge, maps engine errors to statuses, streams deltas.

Status mapping: a bad sampling value -> INVALID_ARGUMENT naming ``sampling.<field>``; a prompt
longer than the context -> INVALID_ARGUMENT with both lengths; a full queue -> RESOURCE_EXHAUSTED;
an unknown model -> NOT_FOUND. A prompt over ``max_prompt_bytes`` is refused (INVALID_ARGUMENT
naming ``prompt`` / ``messages[i].content`` / ``text``) before it is tokenized, and tokenizing and
chat templating run in a worker thread, so a large prompt never stalls the event loop (health
checks and every other call keep answering). A client cancel or deadline cancels the handler, and closing the
engine stream (``aclosing``) stops decoding of that request in the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any

import grpc

from sage_client.codec.sampling import SCALAR_SAMPLING_FIELDS
from sage_client.codec.vectors import vector_bytes
from sage_llm.config import LLMConfig
from sage_llm.engines.base import (
    FINISH_CANCELLED,
    FINISH_LENGTH,
    FINISH_STOP,
    ChatMessage,
    Engine,
    GenerationRequest,
    TokenDelta,
    validate_messages,
)
from sage_llm.errors import (
    InvalidParameterError,
    PromptTooLongError,
    QueueFullError,
    UnknownModelError,
)
from sage_llm.models import ModelSet, load_models
from sage_llm.sampling import SamplingParams
from sage_proto.common.v1 import common_pb2
from sage_proto.llm.v1 import llm_pb2, llm_pb2_grpc
from sage_runtime import ServiceSpec
from sage_runtime import errors as err

MAX_EMBED_TEXTS = 2048
MAX_COUNT_TEXTS = 4096
DEFAULT_MAX_PROMPT_BYTES = 1024 * 1024
_FINISH = {
    FINISH_STOP: llm_pb2.FINISH_REASON_STOP,
    FINISH_LENGTH: llm_pb2.FINISH_REASON_LENGTH,
    FINISH_CANCELLED: llm_pb2.FINISH_REASON_CANCELLED,
}


def sampling_from_proto(msg: llm_pb2.SamplingParams) -> SamplingParams:
    values: dict[str, Any] = {
        name: getattr(msg, name) for name in SCALAR_SAMPLING_FIELDS if msg.HasField(name)
    }
    values["stop"] = tuple(msg.stop)
    try:
        return SamplingParams(**values)
    except InvalidParameterError as exc:
        raise err.invalid_argument(f"sampling.{exc.field}", str(exc)) from None


def map_engine_error(exc: Exception) -> err.ServiceError:
    if isinstance(exc, PromptTooLongError):
        return err.ServiceError(
            grpc.StatusCode.INVALID_ARGUMENT,
            str(exc),
            common_pb2.ERROR_REASON_LIMIT_EXCEEDED,
            field="prompt",
            metadata={
                "prompt_tokens": str(exc.prompt_tokens),
                "context_length": str(exc.context_length),
            },
        )
    if isinstance(exc, InvalidParameterError):
        return err.invalid_argument(exc.field, str(exc))
    if isinstance(exc, QueueFullError):
        return err.overloaded(str(exc))
    if isinstance(exc, UnknownModelError):
        return err.not_found(str(exc), model=exc.model)
    raise exc


def _usage(delta: TokenDelta) -> llm_pb2.Usage | None:
    if delta.usage is None:
        return None
    u = delta.usage
    return llm_pb2.Usage(
        prompt_tokens=u.prompt_tokens,
        completion_tokens=u.completion_tokens,
        total_tokens=u.total_tokens,
    )


def _utf8_len(text: str, limit: int) -> int:
    """The UTF-8 length of ``text``, or a value above ``limit`` found without encoding it all."""
    if len(text) > limit:  # every character is at least one byte
        return len(text)
    if len(text) * 4 <= limit:  # and at most four
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


class LLMServicer(llm_pb2_grpc.LLMServiceServicer):
    def __init__(self, models: ModelSet, max_prompt_bytes: int = DEFAULT_MAX_PROMPT_BYTES) -> None:
        self.models = models
        self.max_prompt_bytes = max_prompt_bytes

    def _check_bytes(self, field: str, size: int) -> None:
        if size > self.max_prompt_bytes:
            raise err.limit_exceeded(
                field,
                f"{field} is {size} bytes; the limit is {self.max_prompt_bytes} bytes "
                "(max_prompt_bytes)",
                self.max_prompt_bytes,
            )

    def _check_text(self, field: str, text: str) -> int:
        size = _utf8_len(text, self.max_prompt_bytes)
        self._check_bytes(field, size)
        return size

    def _engine(self, model: str) -> Engine:
        try:
            return self.models.engine(model)
        except UnknownModelError as exc:
            raise map_engine_error(exc) from None

    async def _deltas(
        self, engine: Engine, prompt: str, sampling: llm_pb2.SamplingParams
    ) -> AsyncIterator[TokenDelta]:
        params = sampling_from_proto(sampling)
        # Tokenizing is CPU work proportional to the prompt: off the event loop.
        ids = await asyncio.to_thread(engine.tokenize, prompt)
        request = GenerationRequest(prompt=prompt, params=params, prompt_token_ids=tuple(ids))
        async with aclosing(engine.generate_stream(request)) as stream:
            try:
                async for delta in stream:
                    yield delta
            except (InvalidParameterError, PromptTooLongError, QueueFullError) as exc:
                raise map_engine_error(exc) from None

    async def _chat_prompt(self, engine: Engine, messages: Sequence[llm_pb2.ChatMessage]) -> str:
        total = 0
        for i, m in enumerate(messages):
            total += self._check_text(f"messages[{i}].content", m.content)
            self._check_bytes("messages", total)
        chat = [ChatMessage(m.role, m.content) for m in messages]
        try:
            validate_messages(chat)
        except InvalidParameterError as exc:
            raise map_engine_error(exc) from None
        return await asyncio.to_thread(engine.apply_chat_template, chat)

    async def _collect(
        self, engine: Engine, prompt: str, sampling: llm_pb2.SamplingParams
    ) -> tuple[str, TokenDelta]:
        parts: list[str] = []
        last = TokenDelta("")
        async for delta in self._deltas(engine, prompt, sampling):
            parts.append(delta.text)
            last = delta
        return "".join(parts), last

    async def Generate(
        self, request: llm_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> llm_pb2.GenerateResponse:
        engine = self._engine(request.model)
        self._check_text("prompt", request.prompt)
        text, last = await self._collect(engine, request.prompt, request.sampling)
        return llm_pb2.GenerateResponse(
            text=text,
            finish_reason=_FINISH[last.finish_reason or FINISH_CANCELLED],
            usage=_usage(last),
            model=engine.info.name,
        )

    async def GenerateStream(
        self, request: llm_pb2.GenerateStreamRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[llm_pb2.GenerateStreamResponse]:
        engine = self._engine(request.model)
        name = engine.info.name
        self._check_text("prompt", request.prompt)
        async for delta in self._deltas(engine, request.prompt, request.sampling):
            if delta.finish_reason is None:
                yield llm_pb2.GenerateStreamResponse(delta=delta.text, model=name)
            else:
                yield llm_pb2.GenerateStreamResponse(
                    delta=delta.text,
                    finish_reason=_FINISH[delta.finish_reason],
                    usage=_usage(delta),
                    model=name,
                )

    async def Chat(
        self, request: llm_pb2.ChatRequest, context: grpc.aio.ServicerContext
    ) -> llm_pb2.ChatResponse:
        engine = self._engine(request.model)
        text, last = await self._collect(
            engine, await self._chat_prompt(engine, request.messages), request.sampling
        )
        return llm_pb2.ChatResponse(
            message=llm_pb2.ChatMessage(role="assistant", content=text),
            finish_reason=_FINISH[last.finish_reason or FINISH_CANCELLED],
            usage=_usage(last),
            model=engine.info.name,
        )

    async def ChatStream(
        self, request: llm_pb2.ChatStreamRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[llm_pb2.ChatStreamResponse]:
        engine = self._engine(request.model)
        name = engine.info.name
        prompt = await self._chat_prompt(engine, request.messages)
        async for delta in self._deltas(engine, prompt, request.sampling):
            if delta.finish_reason is None:
                yield llm_pb2.ChatStreamResponse(delta=delta.text, model=name)
            else:
                yield llm_pb2.ChatStreamResponse(
                    delta=delta.text,
                    finish_reason=_FINISH[delta.finish_reason],
                    usage=_usage(delta),
                    model=name,
                )

    async def Embed(
        self, request: llm_pb2.EmbedRequest, context: grpc.aio.ServicerContext
    ) -> llm_pb2.EmbedResponse:
        try:
            embedder = self.models.embedding_model(request.model)
        except UnknownModelError as exc:
            raise map_engine_error(exc) from None
        if len(request.texts) > MAX_EMBED_TEXTS:
            raise err.limit_exceeded(
                "texts",
                f"{len(request.texts)} texts in one call; the limit is {MAX_EMBED_TEXTS}",
                MAX_EMBED_TEXTS,
            )
        try:
            vectors, tokens = await asyncio.to_thread(embedder.embed_counted, list(request.texts))
        except InvalidParameterError as exc:
            raise map_engine_error(exc) from None
        return llm_pb2.EmbedResponse(
            vectors=vector_bytes(vectors),
            dimension=embedder.dimension,
            model=embedder.name,
            prompt_tokens=tokens,
        )

    async def ListModels(
        self, request: llm_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> llm_pb2.ListModelsResponse:
        out = [
            llm_pb2.ModelInfo(
                name=e.info.name,
                kind=llm_pb2.MODEL_KIND_GENERATION,
                engine=e.info.engine,
                device=e.info.device,
                context_length=e.info.context_length,
            )
            for e in self.models.engines.values()
        ]
        if self.models.embedder is not None:
            out.append(
                llm_pb2.ModelInfo(
                    name=self.models.embedder.name,
                    kind=llm_pb2.MODEL_KIND_EMBEDDING,
                    engine="transformers",
                    device="cpu",
                    context_length=256,
                    dimension=self.models.embedder.dimension,
                )
            )
        return llm_pb2.ListModelsResponse(models=out)

    async def Tokenize(
        self, request: llm_pb2.TokenizeRequest, context: grpc.aio.ServicerContext
    ) -> llm_pb2.TokenizeResponse:
        engine = self._engine(request.model)
        self._check_text("text", request.text)
        return llm_pb2.TokenizeResponse(
            token_ids=await asyncio.to_thread(engine.tokenize, request.text)
        )

    async def CountTokens(
        self, request: llm_pb2.CountTokensRequest, context: grpc.aio.ServicerContext
    ) -> llm_pb2.CountTokensResponse:
        if len(request.texts) > MAX_COUNT_TEXTS:
            raise err.limit_exceeded(
                "texts",
                f"{len(request.texts)} texts in one call; the limit is {MAX_COUNT_TEXTS}",
                MAX_COUNT_TEXTS,
            )
        engine = self._engine(request.model)
        total = 0
        for i, text in enumerate(request.texts):
            total += self._check_text(f"texts[{i}]", text)
            self._check_bytes("texts", total)
        texts = list(request.texts)
        counts = await asyncio.to_thread(lambda: [engine.count_tokens(t) for t in texts])
        return llm_pb2.CountTokensResponse(counts=counts)


def build_spec(config: LLMConfig) -> ServiceSpec:
    """Models load in ``start`` (health stays NOT_SERVING until they are in memory)."""
    servicer = LLMServicer(ModelSet(), config.max_prompt_bytes)

    async def start() -> None:
        servicer.models = await load_models(config)

    async def stop() -> None:
        await servicer.models.close()

    return ServiceSpec(
        name="llm",
        service_names=(llm_pb2.DESCRIPTOR.services_by_name["LLMService"].full_name,),
        add_servicers=lambda server: llm_pb2_grpc.add_LLMServiceServicer_to_server(
            servicer, server
        ),
        start=start,
        stop=stop,
        metadata=lambda: servicer.models.metadata(),
    )
