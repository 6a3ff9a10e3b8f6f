"""Errors the engines raise; the servicer maps each to one gRPC status."""

from __future__ import annotations


class LLMError(Exception):
    """Base class of every error the LLM service raises on purpose."""


class InvalidParameterError(LLMError, ValueError):
    """A request field has a value the engine cannot use (maps to INVALID_ARGUMENT)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class PromptTooLongError(LLMError, ValueError):
    """The prompt does not fit the model's context window (maps to INVALID_ARGUMENT)."""

    def __init__(self, prompt_tokens: int, context_length: int) -> None:
        super().__init__(
            f"prompt is {prompt_tokens} tokens but the model's context length is "
            f"{context_length} tokens; shorten the prompt"
        )
        self.field = "prompt"
        self.prompt_tokens = prompt_tokens
        self.context_length = context_length


class QueueFullError(LLMError):
    """The engine's admission queue is full (maps to RESOURCE_EXHAUSTED); retry later."""

    def __init__(self, capacity: int) -> None:
        super().__init__(
            f"the engine's request queue is full ({capacity} requests waiting); retry later"
        )
        self.capacity = capacity


class EngineUnavailableError(LLMError, RuntimeError):
    """An engine was asked for whose runtime is not installed or has no device here."""


class UnknownModelError(LLMError, LookupError):
    """A request named a model this instance does not serve (maps to NOT_FOUND)."""

    def __init__(self, model: str, served: list[str]) -> None:
        super().__init__(f"model {model!r} is not served here; served models: {served}")
        self.model = model
        self.served = served
