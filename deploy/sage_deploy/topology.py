"""The mesh topology (``topology.yaml``): infrastructure ports and the services
with their modules, ports, replicas, dependencies and environment."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from importlib import resources

import yaml

from sage_deploy.envoy_config import DEFAULT_SERVER_NAMES, EnvoyLimits


@dataclass(frozen=True)
class ServiceDef:
    name: str
    module: str
    grpc_service: str
    port: int
    metrics_port: int
    replicas: int = 1
    depends_on: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    http: bool = False  # plain HTTP (e.g. the gateway) instead of gRPC
    worker: bool = False  # a queue worker (the Celery task workers): no port, no Envoy route
    route: str = ""  # an HTTP service's Envoy path prefix; empty: the OpenAI API's /v1/

    @property
    def http_prefix(self) -> str:
        """The path prefix Envoy routes to this HTTP service (``/v1/``, Studio's ``/studio/``)."""
        return self.route or "/v1/"

    @property
    def is_grpc(self) -> bool:
        """A gRPC service: Envoy routes to it by its service name."""
        return not self.http and not self.worker


@dataclass(frozen=True)
class Topology:
    etcd_port: int
    etcd_peer_port: int
    redis_port: int
    envoy_port: int
    envoy_admin_port: int
    services: tuple[ServiceDef, ...]
    # gRPC services with an Envoy L4 listener of their own (envoy_config: passthrough): name -> port
    envoy_passthrough: dict[str, int] = field(default_factory=dict)
    # host names the public listener answers (with and without its port); any other Host gets 404
    envoy_hosts: tuple[str, ...] = DEFAULT_SERVER_NAMES
    envoy_limits: EnvoyLimits = field(default_factory=EnvoyLimits)

    def service(self, name: str) -> ServiceDef:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(
            f"no service {name!r} in the topology; known: {', '.join(s.name for s in self.services)}"
        )


def load_topology(text: str | None = None) -> Topology:
    if text is None:
        text = resources.files("sage_deploy").joinpath("topology.yaml").read_text()
    raw = yaml.safe_load(text)
    infra = raw["infrastructure"]
    services = tuple(
        ServiceDef(
            name=name,
            module=spec["module"],
            grpc_service=spec.get("grpc_service", ""),
            port=int(spec["port"] if not spec.get("worker") else spec.get("port", 0)),
            metrics_port=int(
                spec["metrics_port"] if not spec.get("worker") else spec.get("metrics_port", 0)
            ),
            replicas=int(spec.get("replicas", 1)),
            depends_on=tuple(spec.get("depends_on", ())),
            env={k: str(v) for k, v in (spec.get("env") or {}).items()},
            http=bool(spec.get("http", False)),
            worker=bool(spec.get("worker", False)),
            route=str(spec.get("route", "")),
        )
        for name, spec in raw["services"].items()
    )
    passthrough = {
        str(name): int(port) for name, port in (infra["envoy"].get("passthrough") or {}).items()
    }
    grpc_names = {s.name for s in services if s.is_grpc}
    unknown = sorted(set(passthrough) - grpc_names)
    if unknown:
        raise ValueError(
            f"infrastructure.envoy.passthrough names {', '.join(unknown)}, not a gRPC service of the "
            f"topology (gRPC services: {', '.join(sorted(grpc_names))})"
        )
    hosts = tuple(str(h) for h in (infra["envoy"].get("hosts") or DEFAULT_SERVER_NAMES))
    raw_limits = infra["envoy"].get("limits") or {}
    known = {f.name: f.type for f in fields(EnvoyLimits)}
    unknown = sorted(set(raw_limits) - set(known))
    if unknown:
        raise ValueError(
            f"infrastructure.envoy.limits: unknown {', '.join(unknown)} (known: {', '.join(known)})"
        )
    defaults = EnvoyLimits()
    limits = EnvoyLimits(**{k: type(getattr(defaults, k))(v) for k, v in raw_limits.items()})
    return Topology(
        etcd_port=int(infra["etcd"]["port"]),
        etcd_peer_port=int(infra["etcd"]["peer_port"]),
        redis_port=int(infra["redis"]["port"]),
        envoy_port=int(infra["envoy"]["port"]),
        envoy_admin_port=int(infra["envoy"]["admin_port"]),
        services=services,
        envoy_passthrough=passthrough,
        envoy_hosts=hosts,
        envoy_limits=limits,
    )
