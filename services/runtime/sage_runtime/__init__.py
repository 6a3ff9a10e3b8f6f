"""Server plumbing shared by every SAGE Mesh service: configuration, logging,
error statuses, interceptors, health, reflection, etcd registration and the
process lifecycle (start, drain, stop)."""

from sage_runtime.config import ConfigError, ServiceConfig, load_config
from sage_runtime.errors import ServiceError
from sage_runtime.host import ServiceSpec, run_service, service_main

__all__ = [
    "ConfigError",
    "ServiceConfig",
    "ServiceError",
    "ServiceSpec",
    "load_config",
    "run_service",
    "service_main",
]
