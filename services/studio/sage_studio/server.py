"""The Studio process: ``StudioApp`` on the mesh's HTTP service runtime
(``sage_runtime.http_process``): registered in etcd as service ``studio`` (metadata ``protocol:
http``) so Envoy's endpoint sync routes ``/studio/`` to it and `sage mesh status` lists it.
Stop (SIGTERM): /healthz turns 503 and the instance deregisters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sage_runtime.http_process import HttpServiceProcess
from sage_studio.app import Services, StudioApp
from sage_studio.chat_api import ChatAPI
from sage_studio.mesh_views import MeshViews
from sage_studio.principal import GatewayAuth
from sage_studio.static import StaticFiles
from sage_studio.upstream import Gateway


class StudioProcess(HttpServiceProcess):
    service = "studio"

    def make_app(self) -> StudioApp:
        return StudioApp(
            StaticFiles(self.config.dist_dir), on_startup=self.startup, on_shutdown=self.shutdown
        )

    async def build(self) -> Services:
        cfg = self.config
        gateway = Gateway(cfg.gateway_url, cfg.upstream_timeout_s)
        views = MeshViews(cfg.etcd_endpoints)
        self.closers = [gateway.close, views.close]
        return Services(GatewayAuth(gateway, cfg.auth_cache_s), ChatAPI(gateway), views)

    def ready_fields(self) -> dict[str, Any]:
        return {"bundle": (Path(self.config.dist_dir) / "index.html").is_file()}
