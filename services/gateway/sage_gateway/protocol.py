"""Request and response schemas of the OpenAI API subset the gateway serves.

Only shapes live here; behaviour is in ``chat.py``, ``app.py`` and friends. Unknown request
fields are accepted and ignored, as OpenAI's own server does for fields it does not know.
Numbers and flags are strict: ``max_tokens`` must be a JSON integer (not ``"12"`` or ``12.5``),
a flag a JSON boolean, a float a JSON number; errors name the public field (``max_tokens``,
``messages[0].content``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str = "text"
    text: str = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = ""
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if part.type == "text")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: StrictBool = False


class SamplingFields(_Request):
    temperature: StrictFloat | None = Field(default=None, ge=0.0, le=2.0)
    top_p: StrictFloat | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)
    stop: str | list[str] | None = Field(default=None, max_length=16)
    seed: StrictInt | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    presence_penalty: StrictFloat | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: StrictFloat | None = Field(default=None, ge=-2.0, le=2.0)
    n: StrictInt = Field(default=1, ge=1, le=1, description="only one choice per request is served")
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    user: str | None = None

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters in the LLM service's names."""
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        return {
            k: v
            for k, v in {
                "temperature": self.temperature,
                "top_p": self.top_p,
                "max_tokens": self.max_completion_tokens or self.max_tokens,
                "stop": stop or None,
                "seed": self.seed,
                "presence_penalty": self.presence_penalty,
                "frequency_penalty": self.frequency_penalty,
            }.items()
            if v is not None
        }


class RagOptions(_Request):
    """``rag``: search ``collection`` with the last user message, put the hits in the prompt."""

    collection: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._-]+$")
    top_k: int | None = Field(default=None, ge=1, le=20)


class ChatCompletionRequest(SamplingFields):
    model: str = Field(min_length=0, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1)
    # Extensions: a conversation kept by the gateway, and long-term memory for it.
    session_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$"
    )
    memory: StrictBool | None = None
    # Extension: retrieval from a VDB collection the gateway offers (rag_collections).
    rag: RagOptions | None = None


class CompletionRequest(SamplingFields):
    model: str = Field(min_length=0, max_length=256)
    prompt: str | list[str]
    echo: StrictBool = False


class EmbeddingRequest(_Request):
    model: str = Field(min_length=0, max_length=256)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class SessionSummary(BaseModel):
    id: str
    owner: str
    messages: int
    memory: bool
    title: str
    created_at: float
    updated_at: float


class SessionCreateRequest(_Request):
    """``POST /sessions`` and ``POST /v1/sessions``: an optional title (SAGE cuts it to 60)."""

    title: str | None = Field(default=None, max_length=200)


class SessionTitleRequest(_Request):
    """``PATCH /sessions/{id}/title``."""

    title: str = Field(max_length=200)


class SessionDetail(SessionSummary):
    history: list[dict[str, str]]
