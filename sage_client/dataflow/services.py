"""Resolving ``call_service`` names: environment-registered services first, then the mesh.

Services registered with ``env.register_service`` are instantiated once per job and called
in-process. Any other name goes to the remote resolver (wired to etcd discovery by the mesh
client); when neither knows the name the error lists what is registered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

RemoteResolver = Callable[[str], object]

_remote_resolver: RemoteResolver | None = None


def set_remote_resolver(resolver: RemoteResolver | None) -> None:
    """Install the fallback that maps a service name to a client object (or None if unknown).

    The returned object is called as ``getattr(client, method)(*args, **kwargs)``.
    """
    global _remote_resolver
    _remote_resolver = resolver


def get_remote_resolver() -> RemoteResolver | None:
    return _remote_resolver


class ServiceNotFoundError(LookupError):
    """No registered service and no mesh service answers to a name."""


@dataclass
class ServiceSpec:
    """How to build a service: ``factory(*args, **kwargs)`` (a class or any callable)."""

    name: str
    factory: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    # SAGE's ServiceFactory face: ``env.service_factories[name].create_service()``
    @property
    def service_name(self) -> str:
        return self.name

    @property
    def service_class(self) -> Callable[..., Any]:
        return self.factory

    def create_service(self, ctx: Any = None) -> Any:
        """A new instance outside any job (the job builds its own at submit)."""
        from sage_client.dataflow.api.service import ServiceContext, construct

        context = (
            ctx if ctx is not None else ServiceContext(self.name, "standalone", ServiceRegistry())
        )
        return construct(self.factory, self.args, self.kwargs, context)


class _LocalService:
    """One in-process service instance. Calls are serialised unless the service declares
    ``thread_safe = True``, because parallel operator instances call it from several threads."""

    def __init__(self, instance: Any) -> None:
        self.instance = instance
        self.lock: threading.Lock | None = (
            None if getattr(instance, "thread_safe", False) else threading.Lock()
        )

    def call(self, name: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        target = getattr(self.instance, method, None)
        if target is None:
            raise AttributeError(
                f"service {name!r} ({type(self.instance).__name__}) has no method {method!r}; "
                "pass method=... to call_service"
            )
        if self.lock is None:
            return target(*args, **kwargs)
        with self.lock:
            return target(*args, **kwargs)


class ServiceRegistry:
    """The services of one running job."""

    def __init__(self, specs: dict[str, ServiceSpec] | None = None, job_name: str = "job") -> None:
        self._specs = dict(specs or {})
        self._job_name = job_name
        self._local: dict[str, _LocalService] = {}
        self._remote: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Instantiate every registered service (once per job), then call each one's
        ``setup()`` (SAGE's BaseService hook) once they all exist."""
        from sage_client.dataflow.api.service import ServiceContext, construct

        for name, spec in self._specs.items():
            ctx = ServiceContext(name, self._job_name, self)
            self._local[name] = _LocalService(construct(spec.factory, spec.args, spec.kwargs, ctx))
        for service in self._local.values():
            setup = getattr(service.instance, "setup", None)
            if callable(setup):
                setup()

    def abort_waiters(self) -> None:
        """The job failed: let every service that can (``abort_waiters()``, e.g. a pipeline
        service) answer its blocked callers with an error now instead of at their timeout."""
        for service in list(self._local.values()):
            hook = getattr(service.instance, "abort_waiters", None)
            if callable(hook):
                try:
                    hook()
                except Exception:  # noqa: BLE001 - best effort; close() reports errors
                    pass

    def close(self) -> None:
        """End the job's services: ``cleanup()`` (BaseService) and ``close()`` where defined;
        every service is closed even when one of them raises (the first error is re-raised)."""
        # queued async calls are dropped; running ones finish on their own (closing a
        # pipeline service below answers those blocked on it), so close() never waits on them
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        first: BaseException | None = None
        for service in self._local.values():
            for hook in ("cleanup", "close"):
                closer = getattr(service.instance, hook, None)
                if callable(closer):
                    try:
                        closer()
                    except Exception as exc:  # noqa: BLE001 - close the others first
                        first = first or exc
        self._local.clear()
        if first is not None:
            raise first

    def instance(self, name: str) -> Any:
        """The in-process object of a registered service (SAGE's ``ctx.get_service``)."""
        local = self._local.get(name)
        if local is None:
            raise ServiceNotFoundError(
                f"service {name!r} is not registered on the environment "
                f"(registered: {', '.join(self.names()) or 'none'})"
            )
        return local.instance

    def names(self) -> list[str]:
        return sorted(self._specs)

    def _resolve(self, name: str) -> Callable[[str, tuple[Any, ...], dict[str, Any]], Any]:
        local = self._local.get(name)
        if local is not None:
            return lambda method, args, kwargs: local.call(name, method, args, kwargs)
        client = self._remote.get(name)
        if client is None:
            resolver = _remote_resolver
            client = resolver(name) if resolver is not None else None
            if client is None:
                registered = ", ".join(self.names()) or "none"
                hint = "" if resolver is not None else " and no mesh resolver is installed"
                raise ServiceNotFoundError(
                    f"service {name!r} is not registered on the environment{hint} "
                    f"(registered: {registered}); call env.register_service({name!r}, ...) "
                    "or start the mesh service"
                )
            self._remote[name] = client

        def call_remote(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            return getattr(client, method)(*args, **kwargs)

        return call_remote

    def call(
        self,
        name: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None = None,
    ) -> Any:
        if method == "process" and not args and not kwargs and self._lacks_process(name):
            return ServiceProxy(self, name)  # SAGE: self.call_service(name).search(q, k=3)
        invoke = self._resolve(name)
        if timeout is None:
            return invoke(method, args, kwargs)
        return self._submit(invoke, method, args, kwargs).result(timeout=timeout)

    def _lacks_process(self, name: str) -> bool:
        local = self._local.get(name)
        return local is not None and not callable(getattr(local.instance, "process", None))

    def call_async(
        self,
        name: str,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None = None,
    ) -> Future[Any]:
        return self._submit(self._resolve(name), method, args, kwargs)

    def _submit(
        self,
        invoke: Callable[[str, tuple[Any, ...], dict[str, Any]], Any],
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Future[Any]:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sage-svc")
            executor = self._executor
        return executor.submit(invoke, method, args, kwargs)


class ServiceProxy:
    """``self.call_service(name)`` of a service without ``process()``: attribute-style calls,
    ``proxy.search(q, k=3, timeout=2.0)``, through the same registry (locks, timeouts)."""

    def __init__(self, registry: ServiceRegistry, name: str) -> None:
        self._registry = registry
        self._name = name

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def invoke(*args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
            return self._registry.call(self._name, method, args, kwargs, timeout)

        return invoke

    def __repr__(self) -> str:
        return f"<service {self._name!r}>"
