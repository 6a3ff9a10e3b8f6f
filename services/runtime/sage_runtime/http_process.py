"""One shape for the mesh's HTTP services (the gateway, Studio): uvicorn (httptools, uvloop) on a
socket bound at construction, registered in etcd with ``protocol: http`` so Envoy's endpoint sync
and `sage mesh status` see it, a ready file once serving, and one way to stop.

Start: bind -> ``build()`` (the service's clients and state) -> metrics -> register -> ready file.
Stop (SIGTERM/SIGINT): /healthz turns 503 and the instance deregisters at once, so Envoy stops
sending; requests in flight finish (up to ``grace_period_s``); then ``closers`` run. A drained
process exits 0.

``python -m <service>`` parses its flags and config the same way for each: ``http_main``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from sage_runtime.config import ConfigError, load_config
from sage_runtime.host import VERSION
from sage_runtime.logs import setup_logging
from sage_runtime.metrics import serve_metrics
from sage_runtime.registration import EtcdRegistration


class HttpServiceProcess:
    """Subclasses set ``service`` and implement ``make_app`` (the ASGI app, given
    ``on_startup=self.startup`` / ``on_shutdown=self.shutdown``) and ``build`` (returns what the
    app's startup hook hands the app; appends async or plain close callables to ``closers``)."""

    service = ""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.log = logging.getLogger(f"sage.{self.service}")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((config.host, config.port))
        self.address = f"{config.advertise_host or config.host}:{self.sock.getsockname()[1]}"
        self.closers: list[Callable[[], Any]] = []
        self.metrics_port: int | None = None
        self._registration: EtcdRegistration | None = None
        self.app = self.make_app()

    def make_app(self) -> Any:
        raise NotImplementedError

    async def build(self) -> Any:
        raise NotImplementedError

    def ready_fields(self) -> dict[str, Any]:
        """Extra fields of the ready file and the "serving" log line."""
        return {}

    def uvicorn_options(self) -> dict[str, Any]:
        return {}

    async def startup(self) -> Any:
        cfg = self.config
        built = await self.build()
        if cfg.metrics_port is not None:
            self.metrics_port = serve_metrics(cfg.host, cfg.metrics_port)
        if cfg.etcd_endpoints:
            self._registration = EtcdRegistration(
                cfg.etcd_endpoints,
                self.service,
                cfg.instance_id,
                self.address,
                VERSION,
                {"protocol": "http", "metrics_port": self.metrics_port},
                cfg.registration_ttl_s,
            )
            await self._registration.start()
        ready = {
            "service": self.service,
            "instance_id": cfg.instance_id,
            "address": self.address,
            "metrics_port": self.metrics_port,
            "pid": os.getpid(),
            **self.ready_fields(),
        }
        if cfg.ready_file:
            tmp = Path(cfg.ready_file + ".tmp")
            tmp.write_text(json.dumps(ready))
            tmp.replace(cfg.ready_file)
        self.log.info("serving", extra={"fields": ready})
        return built

    async def begin_drain(self) -> None:
        self.app.draining = True
        if self._registration is not None:
            await self._registration.stop()
            self._registration = None

    async def shutdown(self) -> None:
        await self.begin_drain()
        for close in self.closers:
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
                # clean drain look like a kill (exit -15); a drained process exits 0 like the
                # gRPC services.
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
            **self.uvicorn_options(),
        )
        server = _Server(config)
        server.run(sockets=[self.sock])
        return 0 if server.started else 1


def http_main(
    prog: str,
    description: str,
    config_class: Any,
    process_class: type[HttpServiceProcess],
    argv: list[str] | None = None,
) -> int:
    """``python -m sage_<service>``: --config FILE, --port, --host; SAGE_* variables override."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--config", help="YAML settings file (SAGE_* environment variables override it)"
    )
    parser.add_argument("--port", type=int)
    parser.add_argument("--host")
    args = parser.parse_args(argv)
    try:
        config = load_config(config_class, args.config, port=args.port, host=args.host)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    setup_logging(process_class.service, config.instance_id, config.log_level, config.log_format)
    return process_class(config).serve()
