"""The gateway process: uvicorn (httptools, uvloop) serving ``GatewayApp``, registered in
etcd as service ``gateway`` so Envoy's endpoint sync and `sage mesh status` see it.

Start: bind -> build the (async) clients and the chat pipeline -> register -> ready file.
Stop (SIGTERM/SIGINT): /healthz turns 503 and the instance deregisters at once, so Envoy stops
sending; requests in flight finish (up to ``grace_period_s``); then the clients close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from sage_client import AsyncKVClient
from sage_client.api_keys import AsyncKeyLookup
from sage_client.llm import AsyncLLMClient
from sage_gateway.app import Dependencies, GatewayApp
from sage_gateway.auth import Authenticator
from sage_gateway.chat_pipeline import ChatPipeline, ChatResources
from sage_gateway.config import GatewayConfig
from sage_gateway.memory_step import MemoryAccess
from sage_gateway.ratelimit import Counters, LocalCounters, RateLimiter, RedisCounters
from sage_gateway.sessions import SessionIndex
from sage_runtime.host import VERSION
from sage_runtime.metrics import serve_metrics
from sage_runtime.registration import EtcdRegistration

log = logging.getLogger("sage.gateway")


class GatewayProcess:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((config.host, config.port))
        self.address = f"{config.advertise_host or config.host}:{self.sock.getsockname()[1]}"
        self.app = GatewayApp(config, on_startup=self._startup, on_shutdown=self._shutdown)
        self._registration: EtcdRegistration | None = None
        self._closers: list[Any] = []
        self._metrics_port: int | None = None

    async def _startup(self) -> Dependencies:
        cfg = self.config
        if cfg.pipeline_workers is not None:
            log.warning(
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
        sessions = SessionIndex(kv, cfg.session_ttl_s)
        resources = ChatResources(
            llm=llm,
            sessions=sessions,
            memory=memory,
            history_turns=cfg.session_history_turns,
            memory_top_k=cfg.memory_top_k,
            llm_timeout_s=cfg.llm_timeout_s,
        )
        counters: Counters = (
            RedisCounters(cfg.redis_url, cfg.redis_sentinels, cfg.redis_master_name)
            if cfg.redis_url
            else LocalCounters()
        )
        self._closers = [llm.close, memory.close, kv.close, counters.close]
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
        if cfg.metrics_port is not None:
            self._metrics_port = serve_metrics(cfg.host, cfg.metrics_port)
        if cfg.etcd_endpoints:
            self._registration = EtcdRegistration(
                cfg.etcd_endpoints,
                "gateway",
                cfg.instance_id,
                self.address,
                VERSION,
                {"protocol": "http", "metrics_port": self._metrics_port},
                cfg.registration_ttl_s,
            )
            await self._registration.start()
        ready = {
            "service": "gateway",
            "instance_id": cfg.instance_id,
            "address": self.address,
            "metrics_port": self._metrics_port,
            "pid": os.getpid(),
        }
        if cfg.ready_file:
            tmp = Path(cfg.ready_file + ".tmp")
            tmp.write_text(json.dumps(ready))
            tmp.replace(cfg.ready_file)
        log.info("serving", extra={"fields": ready})
        return deps

    async def begin_drain(self) -> None:
        self.app.draining = True
        if self._registration is not None:
            await self._registration.stop()
            self._registration = None

    async def _shutdown(self) -> None:
        await self.begin_drain()
        for close in self._closers:
            result = close()
            if asyncio.iscoroutine(result):
                await result

    def serve(self) -> int:
        process = self

        class _Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: Any) -> None:
                # Deregister first so Envoy and clients stop choosing this instance, then drain.
                asyncio.get_event_loop().create_task(process.begin_drain())
                super().handle_exit(sig, frame)

            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                # uvicorn re-raises a captured SIGTERM after its graceful shutdown, which makes a
                # clean drain look like a kill (exit -15); a drained gateway exits 0 like the
                # other services.
                original = {
                    sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)
                }
                try:
                    yield
                finally:
                    for sig, handler in original.items():
                        signal.signal(sig, handler)

        config = uvicorn.Config(
            self.app,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level=self.config.log_level.lower(),
            timeout_graceful_shutdown=int(self.config.grace_period_s) or None,
            backlog=2048,
            limit_concurrency=self.config.limit_concurrency,
            # idle connections are let go; slow request headers are cut by
            # Envoy's request_headers_timeout in front (h11/httptools have none)
            timeout_keep_alive=self.config.keep_alive_timeout_s,
        )
        server = _Server(config)
        server.run(sockets=[self.sock])
        return 0 if server.started else 1
