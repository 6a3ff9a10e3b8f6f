"""One server interceptor for every service: request id, auth, metrics, logs,
error statuses and draining.

Wrapped handlers are cached per method, so the per-call cost is a few
attribute reads, one histogram observation and one counter increment.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from sage_runtime import metrics
from sage_runtime.auth import (
    Authenticator,
    Principal,
    permission_denied,
    reset_principal,
    roles_for,
    set_principal,
)
from sage_runtime.errors import ServiceError
from sage_runtime.logs import request_id_var

log = logging.getLogger("sage.rpc")

# Health and reflection keep answering while draining (health says NOT_SERVING).
DRAIN_EXEMPT = ("/grpc.health.v1.", "/grpc.reflection.")


class CallTracker:
    """Counts calls in progress and refuses new work once draining."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.draining = False


def _request_id(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id":
            return str(value)
    return uuid.uuid4().hex


class ServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, tracker: CallTracker, authenticator: Authenticator) -> None:
        self._tracker = tracker
        self._auth = authenticator
        self._cache: dict[str, grpc.RpcMethodHandler | None] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = details.method
        if method in self._cache:
            return self._cache[method]
        handler = await continuation(details)
        wrapped = None if handler is None else self._wrap(method, handler)
        self._cache[method] = wrapped
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        checks = self._make_checks(method)
        calls = metrics.CALLS
        latency = metrics.LATENCY.labels(method)
        ok_counter = calls.labels(method, "OK")
        tracker = self._tracker

        async def finish_error(exc: BaseException, context: grpc.aio.ServicerContext) -> None:
            if isinstance(exc, ServiceError):
                calls.labels(method, exc.code.name).inc()
                log.info(
                    "call failed",
                    extra={
                        "fields": {"method": method, "code": exc.code.name, "error": exc.message}
                    },
                )
                await context.abort_with_status(exc.to_status())
            raise exc

        def record(start: float, context: grpc.aio.ServicerContext) -> None:
            latency.observe(time.perf_counter() - start)
            code = context.code()
            if code is None or code == grpc.StatusCode.OK or code == 0:
                ok_counter.inc()
            else:
                calls.labels(method, getattr(code, "name", str(code))).inc()

        def unexpected(exc: BaseException) -> None:
            calls.labels(method, "INTERNAL").inc()
            log.exception("unhandled error in %s", method)

        if handler.unary_unary or handler.stream_unary:
            inner = handler.unary_unary or handler.stream_unary

            async def unary_response(request: Any, context: grpc.aio.ServicerContext) -> Any:
                start = time.perf_counter()
                tracker.in_flight += 1
                token = request_id_var.set(_request_id(context))
                who = None
                try:
                    who = set_principal(await checks(context))
                    response = await inner(request, context)
                except ServiceError as exc:
                    latency.observe(time.perf_counter() - start)
                    await finish_error(exc, context)
                except (grpc.aio.AbortError, GeneratorExit, BaseException) as exc:  # noqa: B014
                    latency.observe(time.perf_counter() - start)
                    if not isinstance(exc, (grpc.aio.AbortError, GeneratorExit)) and isinstance(
                        exc, Exception
                    ):
                        unexpected(exc)
                    raise
                else:
                    record(start, context)
                    return response
                finally:
                    tracker.in_flight -= 1
                    request_id_var.reset(token)
                    if who is not None:
                        reset_principal(who)

            factory = (
                grpc.unary_unary_rpc_method_handler
                if handler.unary_unary
                else grpc.stream_unary_rpc_method_handler
            )
            return factory(
                unary_response,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )

        inner_stream = handler.unary_stream or handler.stream_stream

        async def stream_response(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            tracker.in_flight += 1
            token = request_id_var.set(_request_id(context))
            who = None
            try:
                who = set_principal(await checks(context))
                result = inner_stream(request, context)
                if inspect.isasyncgen(result):
                    async for item in result:
                        yield item
                else:
                    await result
            except ServiceError as exc:
                latency.observe(time.perf_counter() - start)
                await finish_error(exc, context)
            except Exception as exc:
                latency.observe(time.perf_counter() - start)
                if not isinstance(exc, grpc.aio.AbortError):
                    unexpected(exc)
                raise
            else:
                record(start, context)
            finally:
                tracker.in_flight -= 1
                request_id_var.reset(token)
                if who is not None:
                    reset_principal(who)

        factory = (
            grpc.unary_stream_rpc_method_handler
            if handler.unary_stream
            else grpc.stream_stream_rpc_method_handler
        )
        return factory(
            stream_response,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _make_checks(
        self, method: str
    ) -> Callable[[grpc.aio.ServicerContext], Awaitable[Principal | None]]:
        """The checks every call of ``method`` passes: drain, then who is calling, then their role."""
        tracker, auth = self._tracker, self._auth
        roles = roles_for(method)
        drains = not method.startswith(DRAIN_EXEMPT)
        service = method.rsplit("/", 1)[0].lstrip("/")

        async def checks(context: grpc.aio.ServicerContext) -> Principal | None:
            if drains and tracker.draining:
                await context.abort(
                    grpc.StatusCode.UNAVAILABLE,
                    "server is shutting down; retry on another instance",
                )
            if roles is None:
                return None
            principal = auth.principal(context.invocation_metadata())
            if not principal.has_any(roles):
                raise permission_denied(
                    f"principal {principal.name!r} (roles {', '.join(sorted(principal.roles))}) "
                    f"may not call {service}; it needs one of: admin, {', '.join(sorted(roles))}"
                )
            return principal

        return checks
