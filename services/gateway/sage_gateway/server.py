"""The gateway process: ``GatewayApp`` on the mesh's HTTP service runtime
(``sage_runtime.http_process``: bind, register as ``gateway``, ready file, drain on SIGTERM).
``build`` makes the (async) clients and the chat pipeline; they close after the drain."""

from __future__ import annotations

from typing import Any

from sage_client import AsyncKVClient
from sage_client.api_keys import AsyncKeyLookup
from sage_client.llm import AsyncLLMClient
from sage_gateway.app import Dependencies, GatewayApp
from sage_gateway.auth import Authenticator
from sage_gateway.chat_pipeline import ChatPipeline, ChatResources
from sage_gateway.memory_step import MemoryAccess
from sage_gateway.rag_step import Retriever
from sage_gateway.ratelimit import Counters, LocalCounters, RateLimiter, RedisCounters
from sage_gateway.sessions import SessionIndex
from sage_runtime.http_process import HttpServiceProcess


class GatewayProcess(HttpServiceProcess):
    service = "gateway"

    def make_app(self) -> GatewayApp:
        return GatewayApp(self.config, on_startup=self.startup, on_shutdown=self.shutdown)

    async def build(self) -> Dependencies:
        cfg = self.config
        if cfg.pipeline_workers is not None:
            self.log.warning(
                "pipeline_workers (SAGE_PIPELINE_WORKERS) is deprecated: the chat path has no "
                "worker threads; set max_concurrent_chats (SAGE_MAX_CONCURRENT_CHATS)",
                extra={
                    "fields": {
                        "pipeline_workers": cfg.pipeline_workers,
                        "max_concurrent_chats": cfg.chat_concurrency,
                    }
                },
            )
        kv = AsyncKVClient()
        llm = AsyncLLMClient(timeout=cfg.llm_timeout_s)
        memory = MemoryAccess()
        retriever = Retriever(cfg.rag_collections)
        sessions = SessionIndex(kv, cfg.session_ttl_s)
        resources = ChatResources(
            llm=llm,
            sessions=sessions,
            memory=memory,
            retriever=retriever,
            history_turns=cfg.session_history_turns,
            memory_top_k=cfg.memory_top_k,
            llm_timeout_s=cfg.llm_timeout_s,
        )
        counters: Counters = (
            RedisCounters(cfg.redis_url, cfg.redis_sentinels, cfg.redis_master_name)
            if cfg.redis_url
            else LocalCounters()
        )
        self.closers = [llm.close, memory.close, retriever.close, kv.close, counters.close]
        deps = Dependencies(
            pipeline=ChatPipeline(resources, cfg.chat_concurrency),
            authenticator=Authenticator(cfg, AsyncKeyLookup(kv, cfg.key_cache_s)),
            limiter=RateLimiter(
                counters, cfg.default_rpm, cfg.default_tpm, cfg.max_concurrent_per_key
            ),
            sessions=sessions,
            llm=llm,
            memory=memory,
        )
        return deps

    def uvicorn_options(self) -> dict[str, Any]:
        return {
            "backlog": 2048,
            "limit_concurrency": self.config.limit_concurrency,
            # idle connections are let go; slow request headers are cut by
            # Envoy's request_headers_timeout in front (h11/httptools have none)
            "timeout_keep_alive": self.config.keep_alive_timeout_s,
        }
