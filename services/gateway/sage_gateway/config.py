"""Gateway settings: the shared service settings plus auth, limits, sessions and CORS."""

from __future__ import annotations

from pydantic import Field

from sage_runtime.config import ServiceConfig

DEFAULT_CONCURRENT_CHATS = 64


class GatewayConfig(ServiceConfig):
    redis_url: str = Field(
        default="", description="shared rate-limit counters; empty keeps them in this process"
    )
    redis_sentinels: list[str] = Field(
        default_factory=list,
        description="host:port of Redis Sentinels: the counters' primary is found through them "
        "(redis_url then gives only the user, password and db)",
    )
    redis_master_name: str = Field(default="sage", min_length=1)
    require_auth: bool = Field(
        default=True, description="false accepts anonymous requests (local development)"
    )
    jwt_hs256_secret: str = Field(
        default="", description="secret of HS256 bearer tokens; empty disables HS256"
    )
    jwt_rs256_public_key: str = Field(
        default="", description="PEM text or a path to it; empty disables RS256"
    )
    jwt_audience: str = Field(
        default="", description="required `aud` of bearer tokens; empty skips the check"
    )
    key_cache_s: float = Field(
        default=5.0, ge=0.0, le=3600.0, description="how long a looked-up API key is trusted"
    )
    default_rpm: int = Field(
        default=600,
        ge=0,
        description="requests per minute of keys without their own limit; 0 = none",
    )
    default_tpm: int = Field(
        default=200_000,
        ge=0,
        description="tokens per minute of keys without their own limit; 0 = none",
    )
    max_concurrent_per_key: int = Field(
        default=16,
        ge=0,
        le=100_000,
        description="requests one key may have in flight on one gateway instance (keep it below "
        "max_concurrent_chats so one key cannot take them all); 0 = no cap",
    )
    default_context_tokens: int = Field(
        default=4096,
        ge=1,
        description="tokens reserved for a request without max_tokens when the model's "
        "context length is unknown",
    )
    limit_concurrency: int = Field(
        default=4096,
        ge=1,
        description="uvicorn: connections and requests at once; beyond it new ones get 503",
    )
    keep_alive_timeout_s: int = Field(
        default=5,
        ge=1,
        le=3600,
        description="uvicorn: an idle keep-alive connection is closed after this",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="allowed browser origins; none by default"
    )
    session_ttl_s: float = Field(
        default=86400.0, gt=0.0, description="a session idle this long is expired"
    )
    session_history_turns: int = Field(
        default=20, ge=0, le=1000, description="past messages put in the prompt"
    )
    memory_enabled: bool = Field(
        default=True, description="false refuses `memory: true` (a mesh without Memory)"
    )
    memory_top_k: int = Field(default=3, ge=1, le=100)
    rag_collections: list[str] = Field(
        default_factory=list,
        description="VDB collections a chat request may name in `rag` (empty: RAG is refused)",
    )
    rag_top_k: int = Field(default=4, ge=1, le=20, description="sources retrieved per turn")
    max_concurrent_chats: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="chat and completion requests generating at once on this instance (more wait for a "
        f"slot, in arrival order); unset: pipeline_workers, else {DEFAULT_CONCURRENT_CHATS}",
    )
    pipeline_workers: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="deprecated: the former name of max_concurrent_chats (used when that is unset)",
    )
    llm_timeout_s: float = Field(default=300.0, gt=0.0)
    default_model: str = ""

    @property
    def chat_concurrency(self) -> int:
        """The cap on chats generating at once: ``max_concurrent_chats``, else the deprecated
        ``pipeline_workers``, else the default."""
        return self.max_concurrent_chats or self.pipeline_workers or DEFAULT_CONCURRENT_CHATS
