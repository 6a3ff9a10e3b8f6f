"""What every typed client shares besides its calls: one pool of channels to its service,
opened by ``_connect`` and closed by ``close()`` or the ``with`` / ``async with`` block.

``BlockingClient`` pools blocking channels, ``AsyncClient`` grpc.aio ones; a typed client is one
of them plus its ``_<Service>Calls`` definitions (``sage_client.calls``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Self

from sage_client.channels import AsyncServiceChannels, ServiceChannels
from sage_client.discovery import Resolver


class BlockingClient:
    _ch: ServiceChannels[Any]

    def _connect(
        self,
        service: str,
        stub: Callable[[Any], Any],
        address: str | Sequence[str] | None,
        resolver: Resolver | None,
        token: str | None,
        timeout: float | None,
    ) -> None:
        self._ch = ServiceChannels(
            service, stub, address=address, resolver=resolver, token=token, timeout=timeout
        )

    def _channels(self, route: str) -> ServiceChannels[Any]:
        return self._ch

    def close(self) -> None:
        self._ch.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    _ch: AsyncServiceChannels[Any]

    def _connect(
        self,
        service: str,
        stub: Callable[[Any], Any],
        address: str | Sequence[str] | None,
        resolver: Resolver | None,
        token: str | None,
        timeout: float | None,
    ) -> None:
        self._ch = AsyncServiceChannels(
            service, stub, address=address, resolver=resolver, token=token, timeout=timeout
        )

    def _channels(self, route: str) -> AsyncServiceChannels[Any]:
        return self._ch

    async def close(self) -> None:
        await self._ch.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
