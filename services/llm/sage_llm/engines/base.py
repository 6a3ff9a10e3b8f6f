"""The one async engine interface every backend implements, and the values it exchanges."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

from sage_llm.errors import InvalidParameterError, PromptTooLongError
from sage_llm.sampling import SamplingParams

FINISH_STOP = "stop"  # EOS token or a stop sequence
FINISH_LENGTH = "length"  # max_tokens or the context window
FINISH_CANCELLED = "cancelled"


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: a prompt (text, or token ids when already tokenized) and its sampling."""

    prompt: str = ""
    params: SamplingParams = field(default_factory=SamplingParams)
    prompt_token_ids: tuple[int, ...] | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TokenDelta:
    """Text decoded since the previous delta. The last delta of a stream has a finish_reason and usage."""

    text: str
    token_ids: tuple[int, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str
    usage: Usage


@dataclass(frozen=True)
class ModelInfo:
    name: str
    engine: str
    device: str
    context_length: int


class Engine(ABC):
    """An async text-generation engine serving one model.

    ``generate_stream`` yields deltas as tokens are decoded. Leaving the iteration early — the
    consumer breaks, calls ``aclose()``, or its task is cancelled (client cancel, deadline) —
    stops decoding of that request inside the engine, not only the delivery.
    """

    @property
    @abstractmethod
    def info(self) -> ModelInfo: ...

    @property
    def context_length(self) -> int:
        return self.info.context_length

    @abstractmethod
    def generate_stream(self, request: GenerationRequest) -> AsyncGenerator[TokenDelta, None]:
        """Admit the request and stream it; QueueFullError / PromptTooLongError come before any delta."""

    @abstractmethod
    def tokenize(self, text: str) -> list[int]: ...

    @abstractmethod
    def detokenize(self, token_ids: Sequence[int]) -> str: ...

    @abstractmethod
    def apply_chat_template(self, messages: Sequence[ChatMessage]) -> str:
        """Render chat messages into the model's prompt format, ending where the assistant speaks."""

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    async def generate(self, request: GenerationRequest) -> Completion:
        parts: list[str] = []
        async for delta in self.generate_stream(request):
            parts.append(delta.text)
            if delta.finish_reason is not None:
                assert delta.usage is not None
                return Completion("".join(parts), delta.finish_reason, delta.usage)
        raise RuntimeError("engine stream ended without a finish_reason")

    async def close(self) -> None:
        """Release the model and any worker thread. Idempotent."""
        return None

    # Shared by the engines so every backend rejects the same inputs the same way.
    def prompt_ids(self, request: GenerationRequest) -> list[int]:
        ids = (
            list(request.prompt_token_ids)
            if request.prompt_token_ids is not None
            else self.tokenize(request.prompt)
        )
        if not ids:
            raise InvalidParameterError("prompt", "must not be empty")
        if len(ids) >= self.context_length:
            raise PromptTooLongError(len(ids), self.context_length)
        return ids

    def generation_budget(self, prompt_len: int, params: SamplingParams) -> int:
        """max_tokens, cut to what still fits in the context window after the prompt."""
        return min(params.max_tokens, self.context_length - prompt_len)


def validate_messages(messages: Sequence[ChatMessage]) -> None:
    if not messages:
        raise InvalidParameterError("messages", "must hold at least one message")
    for i, m in enumerate(messages):
        if m.role not in ("system", "user", "assistant", "tool"):
            raise InvalidParameterError(
                f"messages[{i}].role",
                f"must be system, user, assistant or tool, got {m.role!r}",
            )
