"""Generate deploy/mesh.yml (docker compose) and deploy/envoy.yaml from the topology.

    python -m sage_deploy.compose           # write both files
    python -m sage_deploy.compose --check   # exit 1 if they differ from the topology
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from sage_deploy.descriptors import transcoded_services
from sage_deploy.envoy_config import bootstrap
from sage_deploy.topology import Topology, load_topology

DEPLOY_DIR = Path(__file__).resolve().parent.parent
HEADER = "# Generated from deploy/sage_deploy/topology.yaml by `python -m sage_deploy.compose`; do not edit.\n"
ETCD_IMAGE = "quay.io/coreos/etcd:v3.5.17"
REDIS_IMAGE = "redis:7.2"
ENVOY_IMAGE = "envoyproxy/envoy:v1.32-latest"
APP_IMAGE = "sage-mesh:latest"
ENVOY_APP_IMAGE = "sage-mesh-envoy:latest"  # ENVOY_IMAGE with the descriptor set (deploy/Dockerfile)
# Where the Envoy image holds the descriptor set of the JSON transcoder (deploy/Dockerfile writes it).
ENVOY_DESCRIPTORS = "/etc/envoy/descriptors.pb"


def _build(target: str, **args: str) -> dict:
    return {"context": "..", "dockerfile": "deploy/Dockerfile", "target": target, **({"args": args} if args else {})}


def _healthy(*names: str) -> dict:
    return {n: {"condition": "service_healthy"} for n in names}


def compose(t: Topology) -> dict:
    services: dict = {
        "etcd": {
            "image": ETCD_IMAGE,
            "command": ["etcd", "--name", "etcd", "--data-dir", "/etcd-data",
                        "--listen-client-urls", f"http://0.0.0.0:{t.etcd_port}",
                        "--advertise-client-urls", f"http://etcd:{t.etcd_port}",
                        "--listen-peer-urls", f"http://0.0.0.0:{t.etcd_peer_port}"],
            "volumes": ["etcd-data:/etcd-data"],
            "healthcheck": {"test": ["CMD", "etcdctl", "endpoint", "health"], "interval": "5s", "retries": 10},
        },
        "redis": {
            "image": REDIS_IMAGE,
            "command": ["redis-server", "--appendonly", "yes", "--port", str(t.redis_port)],
            "volumes": ["redis-data:/data"],
            "healthcheck": {"test": ["CMD", "redis-cli", "-p", str(t.redis_port), "ping"], "interval": "5s",
                            "retries": 10},
        },
    }
    names = []
    for svc in t.services:
        for i in range(svc.replicas):
            name = f"{svc.name}-{i}"
            names.append(name)
            deps = [d for d in svc.depends_on if d in ("etcd", "redis")]
            services[name] = {
                "build": _build("app"),
                "image": APP_IMAGE,
                "command": ["python", "-m", svc.module],
                "environment": {
                    "SAGE_HOST": "0.0.0.0",
                    "SAGE_ADVERTISE_HOST": name,
                    "SAGE_PORT": str(svc.port),
                    "SAGE_METRICS_PORT": str(svc.metrics_port),
                    "SAGE_INSTANCE_ID": name,
                    "SAGE_ETCD_ENDPOINTS": f"etcd:{t.etcd_port}",
                    "SAGE_REDIS_URL": f"redis://redis:{t.redis_port}/0",
                    "SAGE_DATA_DIR": "/data",
                    **svc.env,
                },
                "volumes": [f"{name}-data:/data"],
                "depends_on": _healthy(*deps),
                "healthcheck": {"test": ["CMD", "python", "-m", "sage_deploy.healthcheck",
                                         *(["--http"] if svc.http else []), f"127.0.0.1:{svc.port}"],
                                "interval": "5s", "retries": 12},
            }
    services["envoy-sync"] = {
        "image": APP_IMAGE,
        "command": ["python", "-m", "sage_deploy.envoy_sync", "--etcd", f"etcd:{t.etcd_port}", "--eds-dir", "/eds",
                    *[s.name for s in t.services]],
        "volumes": ["envoy-eds:/eds"],
        "depends_on": _healthy("etcd"),
    }
    services["envoy"] = {
        "build": _build("envoy", ENVOY_IMAGE=ENVOY_IMAGE),
        "image": ENVOY_APP_IMAGE,
        "command": ["envoy", "-c", "/etc/envoy/envoy.yaml"],
        "volumes": ["./envoy.yaml:/etc/envoy/envoy.yaml:ro", "envoy-eds:/eds:ro"],
        "ports": [f"{port}:{port}" for port in (t.envoy_port, *sorted(t.envoy_passthrough.values()),
                                                   t.envoy_admin_port)],
        "depends_on": {"envoy-sync": {"condition": "service_started"}, **_healthy(*names)},
    }
    volumes: dict[str, dict] = {v: {} for v in ["etcd-data", "redis-data", "envoy-eds", *(f"{n}-data" for n in names)]}
    return {"services": services, "volumes": volumes}


def envoy(t: Topology) -> dict:
    grpc_services = {s.name: s.grpc_service for s in t.services if not s.http}
    http_routes = [("/v1/", s.name) for s in t.services if s.http]
    return bootstrap(t.envoy_port, t.envoy_admin_port, Path("/eds"), grpc_services, http_routes, host="0.0.0.0",
                     json_services=transcoded_services(grpc_services.values()), descriptor_path=ENVOY_DESCRIPTORS,
                     passthrough=t.envoy_passthrough)


def render() -> dict[Path, str]:
    t = load_topology()
    dump = lambda data: HEADER + yaml.safe_dump(data, sort_keys=False)  # noqa: E731
    return {DEPLOY_DIR / "mesh.yml": dump(compose(t)), DEPLOY_DIR / "envoy.yaml": dump(envoy(t))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for path, text in render().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print("stale (run `python -m sage_deploy.compose`): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
