"""The process lifecycle of a service: build the grpc.aio server, serve,
register, and drain on SIGTERM/SIGINT.

Start: bind -> start the backend (health NOT_SERVING until it is ready) ->
SERVING -> register in etcd -> write the ready file.
Stop: NOT_SERVING -> deregister -> refuse new calls -> wait for in-flight calls
(up to the grace period) -> stop the server -> close the backend -> exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from sage_proto.common.v1 import common_pb2, common_pb2_grpc
from sage_runtime import reflection as mesh_reflection
from sage_runtime.auth import Authenticator
from sage_runtime.config import ConfigError, ServiceConfig, load_config
from sage_runtime.interceptor import CallTracker, ServerInterceptor
from sage_runtime.logs import setup_logging
from sage_runtime.metrics import serve_metrics
from sage_runtime.registration import EtcdRegistration, RegistrationError

log = logging.getLogger("sage.host")
VERSION = "0.1.0"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class ServiceSpec:
    """What a service contributes to the shared host."""

    name: str  # discovery name, e.g. "kv"
    service_names: Sequence[str]  # full proto names, e.g. ("sage.kv.v1.KVService",)
    add_servicers: Callable[[grpc.aio.Server], None]
    start: Callable[[], Awaitable[None]] = field(default=lambda: _noop())
    stop: Callable[[], Awaitable[None]] = field(default=lambda: _noop())
    # Polled every second once started; False flips health to NOT_SERVING.
    ready: Callable[[], Awaitable[bool]] | None = None
    metadata: Callable[[], Mapping[str, Any]] = field(default=lambda: {})


async def _noop() -> None:
    return None


class _Diagnostics(common_pb2_grpc.DiagnosticsServiceServicer):
    async def Echo(
        self, request: common_pb2.EchoRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.EchoResponse:
        return common_pb2.EchoResponse(payload=request.payload)


class _Host:
    def __init__(self, config: ServiceConfig, spec: ServiceSpec) -> None:
        self.config = config
        self.spec = spec
        self.tracker = CallTracker()
        self.health = health.aio.HealthServicer()
        self.stop_event = asyncio.Event()
        self.exit_code = 0
        self._registered = True
        self._backend_ready = False

    async def set_health(self, serving: bool) -> None:
        status = SERVING if serving else NOT_SERVING
        for name in ("", *self.spec.service_names):
            await self.health.set(name, status)

    async def _refresh_health(self) -> None:
        await self.set_health(
            self._backend_ready and self._registered and not self.tracker.draining
        )

    def _on_registration(self, registered: bool) -> None:
        self._registered = registered
        asyncio.get_running_loop().create_task(self._refresh_health())

    async def _watch_backend(self) -> None:
        assert self.spec.ready is not None
        while True:
            await asyncio.sleep(1.0)
            try:
                ok = await asyncio.wait_for(self.spec.ready(), 2.0)
            except Exception:  # noqa: BLE001 - a failing probe means not ready
                ok = False
            if ok != self._backend_ready:
                log.warning("backend %s", "ready" if ok else "NOT ready")
                self._backend_ready = ok
                await self._refresh_health()

    async def run(self) -> int:
        cfg = self.config
        options = [
            ("grpc.max_send_message_length", cfg.max_message_bytes),
            ("grpc.max_receive_message_length", cfg.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        try:
            authenticator = Authenticator.from_settings(
                cfg.secrets_file, cfg.auth_tokens, cfg.allow_anonymous
            )
        except ValueError as exc:
            raise ConfigError(f"{self.spec.name}: {exc}") from None
        if cfg.allow_anonymous:
            log.warning("allow_anonymous is on: callers without a credential are served as admin")
        server = grpc.aio.server(
            interceptors=[ServerInterceptor(self.tracker, authenticator)], options=options
        )
        self.spec.add_servicers(server)
        common_pb2_grpc.add_DiagnosticsServiceServicer_to_server(_Diagnostics(), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        mesh_reflection.enable(server, self.spec.service_names)  # the whole mesh, see there
        await self.set_health(False)
        port = server.add_insecure_port(f"{cfg.host}:{cfg.port}")
        if port == 0:
            raise RuntimeError(f"cannot bind {cfg.host}:{cfg.port}")
        address = f"{cfg.advertise_host or cfg.host}:{port}"
        await server.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)

        metrics_port = (
            serve_metrics(cfg.host, cfg.metrics_port) if cfg.metrics_port is not None else None
        )
        await self.spec.start()
        self._backend_ready = await self.spec.ready() if self.spec.ready else True
        registration = None
        if cfg.etcd_endpoints:
            metadata = {**self.spec.metadata(), "metrics_port": metrics_port}
            registration = EtcdRegistration(
                cfg.etcd_endpoints,
                self.spec.name,
                cfg.instance_id,
                address,
                VERSION,
                metadata,
                cfg.registration_ttl_s,
                on_state=self._on_registration,
            )
            await registration.start()
        await self._refresh_health()
        watcher = asyncio.create_task(self._watch_backend()) if self.spec.ready else None
        ready = {
            "service": self.spec.name,
            "instance_id": cfg.instance_id,
            "address": address,
            "metrics_port": metrics_port,
            "pid": os.getpid(),
        }
        if cfg.ready_file:
            tmp = Path(cfg.ready_file + ".tmp")
            tmp.write_text(json.dumps(ready))
            tmp.replace(cfg.ready_file)
        log.info("serving", extra={"fields": ready})

        await self.stop_event.wait()
        log.info("draining", extra={"fields": {"in_flight": self.tracker.in_flight}})
        self.tracker.draining = True
        await self._refresh_health()
        if watcher:
            watcher.cancel()
        if registration:
            await registration.stop()
        deadline = loop.time() + cfg.grace_period_s
        while self.tracker.in_flight > 0 and loop.time() < deadline:
            await asyncio.sleep(0.02)
        await server.stop(max(0.0, deadline - loop.time()))
        await self.spec.stop()
        log.info("stopped")
        return self.exit_code


async def run_service(config: ServiceConfig, spec: ServiceSpec) -> int:
    return await _Host(config, spec).run()


C = TypeVar("C", bound=ServiceConfig)


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop a service runs on: uvloop (libuv) costs less per call than asyncio's own."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                "event_loop is 'uvloop' but uvloop is not installed; pip install uvloop, or set "
                "SAGE_EVENT_LOOP=asyncio"
            ) from None
        return None
    return uvloop.new_event_loop


def service_main(
    config_model: type[C],
    build: Callable[[C], ServiceSpec],
    argv: Sequence[str] | None = None,
    prog: str | None = None,
) -> int:
    """Entry point of ``python -m sage_<service>``."""
    parser = argparse.ArgumentParser(prog=prog, description=f"Run the {prog or 'SAGE'} service.")
    parser.add_argument(
        "--config", help="YAML configuration file (SAGE_* environment variables override it)"
    )
    parser.add_argument("--port", type=int, help="port to listen on (0 = pick a free one)")
    parser.add_argument("--host", help="address to bind")
    parser.add_argument("--ready-file", help="file to write the bound address to once SERVING")
    args = parser.parse_args(argv)
    try:
        config = load_config(
            config_model, args.config, port=args.port, host=args.host, ready_file=args.ready_file
        )
        factory = loop_factory(config.event_loop)
        Authenticator.from_settings(config.secrets_file, config.auth_tokens, config.allow_anonymous)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(prog or "sage", config.instance_id, config.log_level, config.log_format)
    try:
        spec = build(config)
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(run_service(config, spec))
    except RegistrationError as exc:
        log.error("%s", exc)
        return 3
    except KeyboardInterrupt:
        return 0
