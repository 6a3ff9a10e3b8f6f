"""Each typed client's methods, written once and run blocking or awaited.

A typed client's method is written once, as a function that builds a *call* — which RPC, the
request, whether it may be retried, and how to decode the reply — without running it. The blocking
and the asyncio class both derive the method from it in one line::

    class _KVCalls:                                   # written once
        def _get(self, key: str) -> Unary[bytes]:
            return Unary("Get", kv_pb2.GetRequest(key=key), idempotent=True, decode=lambda r: r.entry.value)

    class KVClient(_KVCalls):
        get = blocking(_KVCalls._get)                  # def get(self, key: str) -> bytes

    class AsyncKVClient(_KVCalls):
        get = awaited(_KVCalls._get)                   # async def get(self, key: str) -> bytes

Three kinds of call: ``Unary`` (one request, one reply), ``Pages`` (a paginated listing: one
request per page token, ``next_page_token`` ends it) and ``Stream`` (a server stream; closing the
iterator early cancels the call). Both classes find their channels with ``_channels(route)``
(``route``: the LLM client's model; one pool elsewhere). The blocking path is the old one plus a
function call: no event loop, no thread hop. Retries follow the channel layer's one policy
(``sage_client.channels``).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

import grpc

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


@dataclass(slots=True)
class Unary(Generic[R]):
    """One request, one reply. ``idempotent``: retried on another instance when one is
    UNAVAILABLE; ``retry_unreached``: retried only when it never reached the instance (see
    ``sage_client.channels``)."""

    method: str
    request: Any
    idempotent: bool
    decode: Callable[[Any], R]
    timeout: float | None = None
    route: str = ""
    retry_unreached: bool = False


@dataclass(slots=True)
class Pages(Generic[T]):
    """A listing fetched a page at a time: ``request(page_token)`` for each page, ``items(reply)``
    its items, until a reply's ``next_page_token`` is empty."""

    method: str
    request: Callable[[str], Any]
    items: Callable[[Any], Iterable[T]]
    route: str = ""


@dataclass(slots=True)
class Stream(Generic[T]):
    """A server stream; ``items(message)`` is what each message yields (none, one or more).
    ``retry_unstarted``: a stream that failed UNAVAILABLE before its first message is opened
    again on another instance (one that failed later is not: its messages were delivered)."""

    method: str
    request: Any
    items: Callable[[Any], Iterable[T]]
    timeout: float | None = None
    route: str = ""
    retry_unstarted: bool = False


def _derived(op: Callable[..., Any], method: Callable[..., Any]) -> None:
    """``method`` takes ``op``'s name, documentation and parameters (its return is the decoded value)."""
    method.__name__ = op.__name__.lstrip("_")
    method.__qualname__ = method.__name__
    method.__doc__ = op.__doc__
    method.__signature__ = inspect.signature(op).replace(  # type: ignore[attr-defined]
        return_annotation=inspect.Signature.empty
    )


def blocking(op: Callable[Concatenate[Any, P], Unary[R]]) -> Callable[Concatenate[Any, P], R]:
    def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        call = op(self, *args, **kwargs)
        reply = self._channels(call.route).call(
            call.method,
            call.request,
            idempotent=call.idempotent,
            timeout=call.timeout,
            retry_unreached=call.retry_unreached,
        )
        return call.decode(reply)

    _derived(op, method)
    return method


def awaited(
    op: Callable[Concatenate[Any, P], Unary[R]],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]:
    async def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        call = op(self, *args, **kwargs)
        reply = await self._channels(call.route).call(
            call.method,
            call.request,
            idempotent=call.idempotent,
            timeout=call.timeout,
            retry_unreached=call.retry_unreached,
        )
        return call.decode(reply)

    _derived(op, method)
    return method


def blocking_pages(
    op: Callable[Concatenate[Any, P], Pages[T]],
) -> Callable[Concatenate[Any, P], Iterator[T]]:
    def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        call = op(self, *args, **kwargs)
        channels = self._channels(call.route)
        token = ""
        while True:
            reply = channels.call(call.method, call.request(token), idempotent=True)
            yield from call.items(reply)
            token = reply.next_page_token
            if not token:
                return

    _derived(op, method)
    return method


def awaited_pages(
    op: Callable[Concatenate[Any, P], Pages[T]],
) -> Callable[Concatenate[Any, P], AsyncIterator[T]]:
    async def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        call = op(self, *args, **kwargs)
        channels = self._channels(call.route)
        token = ""
        while True:
            reply = await channels.call(call.method, call.request(token), idempotent=True)
            for item in call.items(reply):
                yield item
            token = reply.next_page_token
            if not token:
                return

    _derived(op, method)
    return method


def blocking_all(
    op: Callable[Concatenate[Any, P], Pages[T]],
) -> Callable[Concatenate[Any, P], list[T]]:
    """Every item of a listing, as one list."""
    pages = blocking_pages(op)

    def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> list[T]:
        return list(pages(self, *args, **kwargs))

    _derived(op, method)
    return method


def awaited_all(
    op: Callable[Concatenate[Any, P], Pages[T]],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, list[T]]]:
    """Every item of a listing, as one list."""
    pages = awaited_pages(op)

    async def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> list[T]:
        return [item async for item in pages(self, *args, **kwargs)]

    _derived(op, method)
    return method


def blocking_stream(
    op: Callable[Concatenate[Any, P], Stream[T]],
) -> Callable[Concatenate[Any, P], Iterator[T]]:
    def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        call = op(self, *args, **kwargs)
        channels = self._channels(call.route)
        tried: set[str] = set()
        while True:
            addr, stream = channels.open_stream(
                call.method, call.request, tried, timeout=call.timeout
            )
            started = False
            try:
                for message in stream:
                    started = True
                    yield from call.items(message)
                return
            except grpc.RpcError as exc:
                if not channels._retries(tried, addr, exc, call.retry_unstarted and not started):
                    raise channels.rpc_error(exc, call.method, call.timeout) from None
            finally:
                stream.cancel()

    _derived(op, method)
    return method


def awaited_stream(
    op: Callable[Concatenate[Any, P], Stream[T]],
) -> Callable[Concatenate[Any, P], AsyncGenerator[T, None]]:
    async def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> AsyncGenerator[T, None]:
        call = op(self, *args, **kwargs)
        channels = self._channels(call.route)
        tried: set[str] = set()
        while True:
            addr, stream = channels.open_stream(
                call.method, call.request, tried, timeout=call.timeout
            )
            started = False
            try:
                async for message in stream:
                    started = True
                    for item in call.items(message):
                        yield item
                return
            except grpc.RpcError as exc:
                if not channels._retries(tried, addr, exc, call.retry_unstarted and not started):
                    raise channels.rpc_error(exc, call.method, call.timeout) from None
            finally:
                stream.cancel()

    _derived(op, method)
    return method
