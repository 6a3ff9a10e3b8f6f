"""The Studio process: uvicorn serving ``StudioApp``, registered in etcd as service ``studio``
(metadata ``protocol: http``) so Envoy's endpoint sync routes ``/studio/`` to it and
`sage mesh status` lists it. Stop (SIGTERM): /healthz turns 503 and the instance deregisters."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

import uvicorn

from sage_runtime.host import VERSION
from sage_runtime.metrics import serve_metrics
from sage_runtime.registration import EtcdRegistration
from sage_studio.app import Services, StudioApp
from sage_studio.chat_api import ChatAPI
from sage_studio.config import StudioConfig
from sage_studio.mesh_views import MeshViews
from sage_studio.principal import GatewayAuth
from sage_studio.static import StaticFiles
from sage_studio.upstream import Gateway

log = logging.getLogger("sage.studio")


class StudioProcess:
    def __init__(self, config: StudioConfig) -> None:
        self.config = config
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((config.host, config.port))
        self.address = f"{config.advertise_host or config.host}:{self.sock.getsockname()[1]}"
        self.app = StudioApp(
            StaticFiles(config.dist_dir), on_startup=self._startup, on_shutdown=self._shutdown
        )
        self._registration: EtcdRegistration | None = None
        self._closers: list[Any] = []

    async def _startup(self) -> Services:
        cfg = self.config
        gateway = Gateway(cfg.gateway_url, cfg.upstream_timeout_s)
        views = MeshViews(cfg.etcd_endpoints)
        self._closers = [gateway.close, views.close]
        services = Services(GatewayAuth(gateway, cfg.auth_cache_s), ChatAPI(gateway), views)
        metrics_port = (
            serve_metrics(cfg.host, cfg.metrics_port) if cfg.metrics_port is not None else None
        )
        if cfg.etcd_endpoints:
            self._registration = EtcdRegistration(
                cfg.etcd_endpoints,
                "studio",
                cfg.instance_id,
                self.address,
                VERSION,
                {"protocol": "http", "metrics_port": metrics_port},
                cfg.registration_ttl_s,
            )
            await self._registration.start()
        ready = {
            "service": "studio",
            "instance_id": cfg.instance_id,
            "address": self.address,
            "metrics_port": metrics_port,
            "pid": os.getpid(),
            "bundle": (Path(cfg.dist_dir) / "index.html").is_file(),
        }
        if cfg.ready_file:
            tmp = Path(cfg.ready_file + ".tmp")
            tmp.write_text(json.dumps(ready))
            tmp.replace(cfg.ready_file)
        log.info("serving", extra={"fields": ready})
        return services

    async def begin_drain(self) -> None:
        self.app.draining = True
        if self._registration is not None:
            await self._registration.stop()
            self._registration = None

    async def _shutdown(self) -> None:
        await self.begin_drain()
        for close in self._closers:
            await close()

    def serve(self) -> int:
        process = self

        class _Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: Any) -> None:
                asyncio.get_event_loop().create_task(process.begin_drain())
                super().handle_exit(sig, frame)

        config = uvicorn.Config(
            self.app,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level=self.config.log_level.lower(),
            timeout_graceful_shutdown=int(self.config.grace_period_s) or None,
        )
        server = _Server(config)
        server.run(sockets=[self.sock])
        return 0 if server.started else 1
