"""Who is calling Studio's API: the caller's ``Authorization`` (an API key or a JWT, as the
gateway accepts them) is checked by the gateway itself (``GET /v1/me``), so Studio holds no key
store and no JWT secret: it is an authenticated client of the mesh like any other. An accepted
credential is trusted for ``auth_cache_s`` (keyed by its hash, never stored in clear)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import httpx

from sage_studio.errors import StudioError
from sage_studio.upstream import Gateway


@dataclass(frozen=True)
class Principal:
    user: str
    admin: bool


class GatewayAuth:
    def __init__(self, gateway: Gateway, cache_s: float) -> None:
        self._gateway = gateway
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise StudioError(
                401,
                "missing credential: sign in with an API key (`sage keys create --user NAME`) "
                "or a JWT; send `Authorization: Bearer <key>`",
                "authentication_error",
            )
        digest = hashlib.sha256(authorization.encode()).hexdigest()
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            reply = await self._gateway.request("GET", "/v1/me", authorization)
        except httpx.HTTPError as exc:
            raise StudioError(
                503,
                f"cannot check the credential: the gateway is unreachable ({exc}); "
                "is the mesh up (`sage mesh status`)?",
                "service_unavailable",
            ) from None
        if reply.status_code in (401, 403):
            raise StudioError(reply.status_code, _message(reply), "authentication_error")
        if reply.status_code != 200:
            raise StudioError(
                502, f"the gateway answered {reply.status_code}: {_message(reply)}", "bad_gateway"
            )
        data = reply.json()
        who = Principal(str(data["user"]), bool(data["admin"]))
        if self._cache_s > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._cache_s, who)
        return who


def _message(reply: httpx.Response) -> str:
    try:
        return str(reply.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return reply.text[:200]
