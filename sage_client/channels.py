"""Channels to the live instances of one service: round-robin, with retry of
idempotent calls on another instance when one is UNAVAILABLE.

The one retry policy of the SDK (``_Pool._retries``): a call that failed UNAVAILABLE goes on to
another instance (up to ``max_attempts`` instances) when repeating it cannot do anything twice:
an idempotent call; a call that asks for it and never reached an instance (gRPC could not
connect, ``never_reached``); a server stream that asks for it and failed before its first
message (``calls.Stream.retry_unstarted``).

``ServiceChannels`` (blocking) and ``AsyncServiceChannels`` (grpc.aio) share
the instance bookkeeping and the retry rule; each keeps one channel per address
and drops the channels of instances discovery no longer lists. Only the call
itself (awaited or not) is written twice.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import grpc

from sage_client.credentials import bearer_metadata, default_token
from sage_client.discovery import Instance, NoInstances, Resolver, StaticResolver, default_resolver
from sage_client.errors import SageError, Unavailable, from_rpc_error

S = TypeVar("S")
MAX_MESSAGE = 64 * 1024 * 1024
_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.enable_retries", 0),
    # gRPC's defaults (1 s, growing to 120 s) are made for the internet; inside a mesh a restarted
    # instance is back in well under a second, and calls fail fast while a channel backs off.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
]
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)


def never_reached(message: str) -> bool:
    """Whether a call that failed UNAVAILABLE with ``message`` never reached an instance: gRPC
    could not connect (an instance that died while serving says "Socket closed" instead, and
    may have done part of the work, so such a call is not repeated unless idempotent)."""
    return "connect" in message.lower()


def auth_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """The metadata every call of a pool carries: ``token``, else this process's credential
    (``sage_client.credentials``: SAGE_TOKEN, or the mesh's secrets file)."""
    return bearer_metadata(token if token is not None else default_token())


class _Pool(Generic[S]):
    def __init__(
        self,
        service: str,
        stub_factory: Callable[[Any], S],
        address: str | Sequence[str] | None,
        resolver: Resolver | None,
        make_channel: Callable[[str], Any],
        token: str | None,
        timeout: float | None,
        max_attempts: int,
    ) -> None:
        self.service = service
        self.metadata = auth_metadata(token)
        self.timeout = timeout
        self.max_attempts = max_attempts
        if address:
            addresses = [address] if isinstance(address, str) else list(address)
            resolver = StaticResolver({service: addresses})
        self._resolver = resolver or default_resolver()
        self._stub_factory = stub_factory
        self._make_channel = make_channel
        self._lock = threading.Lock()
        self._channels: dict[str, tuple[Any, S]] = {}
        self._order: list[str] = []
        self._cursor = itertools.count()
        self._generation = -1
        self.filter: Callable[[Instance], bool] | None = None

    def rpc_error(self, exc: grpc.RpcError, method: str, timeout: float | None = None) -> SageError:
        """``exc`` of a call to ``method`` (deadline ``timeout``, else the pool's) as a SageError
        that names this service and method when the deadline ran out."""
        return from_rpc_error(
            exc, service=self.service, method=method, timeout=timeout or self.timeout
        )

    def _refresh(self) -> list[Any]:
        instances = self._resolver.instances(self.service)
        if self.filter is not None:
            instances = [i for i in instances if self.filter(i)]
        live = {i.address for i in instances}
        stale = []
        with self._lock:
            for addr in list(self._channels):
                if addr not in live:
                    stale.append(self._channels.pop(addr)[0])
            for addr in sorted(live):
                if addr not in self._channels:
                    channel = self._make_channel(addr)
                    self._channels[addr] = (channel, self._stub_factory(channel))
            self._order = sorted(self._channels)
            self._generation = Resolver.generation
        return stale

    def pick(self, exclude: set[str]) -> tuple[str, S]:
        if self._generation != Resolver.generation or not self._order:
            self._close_channels(self._refresh())
        order = self._order
        if not order:
            raise Unavailable(
                f"no live instance of service {self.service!r} is registered; is it running? "
                "(`sage mesh status` lists instances)"
            )
        for _ in range(len(order)):
            addr = order[next(self._cursor) % len(order)]
            if addr not in exclude:
                return addr, self._channels[addr][1]
        raise Unavailable(
            f"every instance of service {self.service!r} failed: {', '.join(sorted(exclude))}"
        )

    def _close_channels(self, channels: list[Any]) -> None:
        for channel in channels:
            result = channel.close()
            if hasattr(
                result, "close"
            ):  # aio close() is a coroutine; nobody awaits a dropped channel
                result.close()

    def addresses(self) -> list[str]:
        self.pick(set())
        return list(self._order)

    # -- one call's attempts (the same for the blocking and the grpc.aio pool) --------------------
    def _attempt(self, tried: set[str]) -> tuple[str, S]:
        try:
            return self.pick(tried)
        except NoInstances as exc:
            raise Unavailable(str(exc)) from None

    def _retries(
        self,
        tried: set[str],
        addr: str,
        exc: grpc.RpcError,
        idempotent: bool,
        retry_unreached: bool = False,
    ) -> bool:
        """Whether a call that failed on ``addr`` goes on to another instance: an idempotent
        one, or (``retry_unreached``) one that never reached ``addr``."""
        tried.add(addr)
        if exc.code() not in _RETRYABLE or len(tried) >= self.max_attempts:
            return False
        if not (idempotent or (retry_unreached and never_reached(exc.details() or ""))):
            return False
        try:
            self.pick(tried)
            return True
        except (Unavailable, NoInstances):
            return False

    def open_stream(
        self, method: str, request: Any, tried: set[str], *, timeout: float | None = None
    ) -> tuple[str, Any]:
        """A streaming call of ``method`` on an instance not in ``tried``, and its address;
        iterate it, cancel it when done (``calls.blocking_stream`` / ``awaited_stream`` retry
        it by ``_retries``)."""
        addr, stub = self._attempt(tried)
        call = getattr(stub, method)(
            request, timeout=timeout or self.timeout, metadata=self.metadata
        )
        return addr, call

    def stream(self, method: str, request: Any, *, timeout: float | None = None) -> Any:
        """A streaming call of ``method`` (not retried); iterate it, cancel it when done."""
        addr, stub = self.pick(set())
        return getattr(stub, method)(
            request, timeout=timeout or self.timeout, metadata=self.metadata
        )

    def _take_channels(self) -> list[Any]:
        with self._lock:
            channels = [c for c, _ in self._channels.values()]
            self._channels.clear()
            self._order = []
        return channels


class ServiceChannels(_Pool[S]):
    """Blocking calls to one service."""

    def __init__(
        self,
        service: str,
        stub_factory: Callable[[grpc.Channel], S],
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 30.0,
        max_attempts: int = 3,
    ) -> None:
        super().__init__(
            service,
            stub_factory,
            address,
            resolver,
            lambda addr: grpc.insecure_channel(addr, options=_OPTIONS),
            token,
            timeout,
            max_attempts,
        )

    def call(
        self,
        method: str,
        request: Any,
        *,
        idempotent: bool,
        timeout: float | None = None,
        retry_unreached: bool = False,
    ) -> Any:
        """One call of ``method``, on another instance where ``_retries`` allows."""
        tried: set[str] = set()
        while True:
            addr, stub = self._attempt(tried)
            try:
                return getattr(stub, method)(
                    request, timeout=timeout or self.timeout, metadata=self.metadata
                )
            except grpc.RpcError as exc:
                if not self._retries(tried, addr, exc, idempotent, retry_unreached):
                    raise self.rpc_error(exc, method, timeout) from None

    def close(self) -> None:
        self._close_channels(self._take_channels())


class AsyncServiceChannels(_Pool[S]):
    """grpc.aio calls to one service; create it inside the event loop that uses it."""

    def __init__(
        self,
        service: str,
        stub_factory: Callable[[grpc.aio.Channel], S],
        *,
        address: str | Sequence[str] | None = None,
        resolver: Resolver | None = None,
        token: str | None = None,
        timeout: float | None = 30.0,
        max_attempts: int = 3,
    ) -> None:
        super().__init__(
            service,
            stub_factory,
            address,
            resolver,
            lambda addr: grpc.aio.insecure_channel(addr, options=_OPTIONS),
            token,
            timeout,
            max_attempts,
        )

    async def call(
        self,
        method: str,
        request: Any,
        *,
        idempotent: bool,
        timeout: float | None = None,
        retry_unreached: bool = False,
    ) -> Any:
        """One call of ``method``, on another instance where ``_retries`` allows."""
        tried: set[str] = set()
        while True:
            addr, stub = self._attempt(tried)
            try:
                return await getattr(stub, method)(
                    request, timeout=timeout or self.timeout, metadata=self.metadata
                )
            except grpc.RpcError as exc:
                if not self._retries(tried, addr, exc, idempotent, retry_unreached):
                    raise self.rpc_error(exc, method, timeout) from None

    async def close(self) -> None:
        for channel in self._take_channels():
            await channel.close()


class _BearerInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds a bearer token to every call of a raw channel (stubs, reflection clients)."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def _details(self, details: Any) -> Any:
        extra = tuple(details.metadata or ()) + self._metadata
        return (
            details._replace(metadata=extra)
            if hasattr(details, "_replace")
            else _Details(details, extra)
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


class _Details(grpc.ClientCallDetails):
    def __init__(self, base: Any, metadata: tuple[tuple[str, str], ...]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


def metadata_channel(address: str, metadata: Sequence[tuple[str, str]]) -> grpc.Channel:
    """A blocking channel to ``address`` whose every call carries ``metadata``."""
    return grpc.intercept_channel(
        grpc.insecure_channel(address, options=_OPTIONS), _BearerInterceptor(tuple(metadata))
    )


def authorized_channel(address: str, token: str | None = None) -> grpc.Channel:
    """A blocking channel to ``address`` whose every call carries ``token`` (default: this
    process's credential), for raw stubs and reflection clients."""
    return metadata_channel(address, auth_metadata(token))
