"""The gateway as Studio's server reaches it: a fixed URL (``gateway_url``) or a live instance
found in etcd through ``sage_client.discovery``; requests carry the caller's own credential."""

from __future__ import annotations

import asyncio
import random

import httpx

from sage_client.discovery import NoInstances, default_resolver


class Gateway:
    def __init__(self, url: str, timeout_s: float) -> None:
        self._url = url.rstrip("/")
        self._http = httpx.AsyncClient(timeout=timeout_s)

    async def base_url(self) -> str:
        if self._url:
            return self._url
        try:
            found = await asyncio.to_thread(default_resolver().instances, "gateway")
        except NoInstances as exc:
            raise httpx.ConnectError(str(exc)) from None
        if not found:
            raise httpx.ConnectError("no gateway instance is registered in etcd")
        return f"http://{random.choice(found).address}"

    async def request(
        self,
        method: str,
        path: str,
        authorization: str,
        json: object | None = None,
    ) -> httpx.Response:
        url = f"{await self.base_url()}{path}"
        return await self._http.request(
            method, url, json=json, headers={"authorization": authorization}
        )

    async def close(self) -> None:
        await self._http.aclose()
