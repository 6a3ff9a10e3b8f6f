"""``BaseService``: SAGE's base class of services registered on an environment.

A service gets ``self.ctx`` (a ``ServiceContext``) before its ``__init__`` runs, so it can log
and call other services from there on; ``setup()`` runs once the job's services all exist,
``cleanup()`` when the job ends. Any public method is callable with
``self.call_service(name, ..., method=...)``; the default method is ``process``.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

from sage_client.dataflow.api.functions import _ServiceCaller

# the context of the service being constructed (set by the job's ServiceRegistry)
_constructing: contextvars.ContextVar[ServiceContext | None] = contextvars.ContextVar(
    "sage_service_ctx", default=None
)


class ServiceContext:
    """``service.ctx``: its name, the job's name, a logger and the job's other services."""

    def __init__(self, name: str, job_name: str, services: Any) -> None:
        self.name = name
        self.env_name = job_name
        self.services = services
        self.logger = logging.getLogger(f"sage.service.{job_name}.{name}")

    def call_service(self, name: str, *args: Any, method: str = "process", **kwargs: Any) -> Any:
        timeout = kwargs.pop("timeout", None)
        return self.services.call(name, method, args, kwargs, timeout)

    def get_service(self, name: str) -> Any:
        return self.services.instance(name)


class BaseService:
    """Subclass it; public methods are what callers reach."""

    ctx: ServiceContext | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> BaseService:
        instance = super().__new__(cls)
        instance.ctx = _constructing.get()  # available in __init__, as SAGE injects it
        return instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Extra arguments are accepted so SAGE code calling ``super().__init__(**kw)`` works."""

    @property
    def name(self) -> str:
        return self.ctx.name if self.ctx is not None else type(self).__name__

    @property
    def logger(self) -> logging.Logger:
        if self.ctx is not None:
            return self.ctx.logger
        return logging.getLogger(f"sage.service.{type(self).__name__}")

    @property
    def call_service(self) -> _ServiceCaller:
        """Service-to-service calls: ``self.call_service("other", x, method="get")``."""
        return _ServiceCaller(self, asynchronous=False)

    @property
    def call_service_async(self) -> _ServiceCaller:
        return _ServiceCaller(self, asynchronous=True)

    def _service_registry(self) -> Any:
        if self.ctx is None:
            raise RuntimeError(
                f"{type(self).__name__}.call_service() needs the service to run in a job "
                "(register it with env.register_service)"
            )
        return self.ctx.services

    def setup(self) -> None:
        """Called once every service of the job exists, before the first record."""

    def cleanup(self) -> None:
        """Called once when the job ends."""


def construct(
    factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any], ctx: ServiceContext
) -> Any:
    """Build a service with ``ctx`` visible to ``BaseService.__new__``; a plain object (not a
    BaseService) still gets ``ctx`` set when it has no attribute of that name."""
    token = _constructing.set(ctx)
    try:
        instance = factory(*args, **kwargs)
    finally:
        _constructing.reset(token)
    if isinstance(instance, BaseService):
        instance.ctx = ctx
    return instance
