"""Studio settings: the shared service settings plus where the bundle is and how long a checked
credential is trusted."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from sage_runtime.config import ServiceConfig

# studio/dist of the source tree (scripts/build-studio.sh writes it); an installed wheel sets dist_dir
DEFAULT_DIST = Path(__file__).resolve().parents[3] / "studio" / "dist"


class StudioConfig(ServiceConfig):
    dist_dir: str = Field(
        default=str(DEFAULT_DIST), description="the built bundle (scripts/build-studio.sh)"
    )
    gateway_url: str = Field(
        default="",
        description="http://host:port of a gateway; empty finds one in etcd (service `gateway`)",
    )
    auth_cache_s: float = Field(
        default=5.0,
        ge=0.0,
        le=3600.0,
        description="how long a credential the gateway accepted is trusted",
    )
    upstream_timeout_s: float = Field(default=30.0, gt=0.0, le=3600.0)
