"""Per-key limits: requests per minute, tokens per minute and requests at once.

Counters live in Redis when ``redis_url`` is set, so every gateway instance counts against
the same budget; otherwise in this process. A request is admitted when its window has fewer
than ``rpm`` requests and fewer than ``tpm`` tokens spent or reserved. Admission *reserves*
the tokens the request may use (``min(max_tokens, context length)``) in the same atomic step,
so concurrent requests cannot all pass on an unspent budget: the window never goes over
``tpm`` by more than one request's reservation. When the request ends, the reservation is
settled against the tokens it really used (the unused part refunded, to the window it was
reserved in). A refusal is a 429 with ``Retry-After`` (seconds to the next window) and OpenAI's
``x-ratelimit-*`` headers.

``max_concurrent`` caps one key's requests in flight on this gateway instance (429
``concurrency_limit``, ``Retry-After: 1``), so one key's flood cannot take every chat
slot (``max_concurrent_chats``) from the others. When the counters' store (Redis) fails, requests get 503 with
``Retry-After`` rather than a 500 or an unlimited pass.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sage_gateway.auth import Principal
from sage_gateway.errors import GatewayError

log = logging.getLogger("sage.gateway")
WINDOW_S = 60
UNAVAILABLE_RETRY_S = 2
# Count the request; reserve ARGV[4] tokens when the window is under both limits (ARGV[2] rpm,
# ARGV[3] tpm; 0 = none). Returns {requests, tokens (after the reservation), admitted}.
_HIT = """
local r = redis.call('INCR', KEYS[1])
if r == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local t = tonumber(redis.call('GET', KEYS[2]) or '0')
local rpm, tpm, reserve = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if (rpm > 0 and r > rpm) or (tpm > 0 and t >= tpm) then return {r, t, 0} end
if reserve > 0 then
  t = redis.call('INCRBY', KEYS[2], reserve)
  if t == reserve then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
end
return {r, t, 1}
"""
_CHARGE = """
local t = redis.call('INCRBY', KEYS[1], ARGV[1])
if t == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return t
"""


class CountersUnavailable(Exception):
    """The counters' store could not be reached (maps to 503 + Retry-After)."""


class Counters(Protocol):
    async def hit(
        self, requests_key: str, tokens_key: str, rpm: int = 0, tpm: int = 0, reserve: int = 0
    ) -> tuple[int, int, bool]: ...
    async def charge(self, tokens_key: str, tokens: int) -> None: ...
    async def close(self) -> None: ...


@dataclass
class Admission:
    """An admitted request: the headers to send and the tokens it holds reserved."""

    headers: dict[str, str] = field(default_factory=dict)
    tokens_key: str = ""
    reserved: int = 0


class LocalCounters:
    def __init__(self) -> None:
        self._values: dict[str, int] = {}
        self._window = -1

    def _roll(self) -> None:
        window = int(time.time() // WINDOW_S)
        if window != self._window:
            self._values.clear()
            self._window = window

    async def hit(
        self, requests_key: str, tokens_key: str, rpm: int = 0, tpm: int = 0, reserve: int = 0
    ) -> tuple[int, int, bool]:
        self._roll()
        requests = self._values[requests_key] = self._values.get(requests_key, 0) + 1
        tokens = self._values.get(tokens_key, 0)
        if (rpm and requests > rpm) or (tpm and tokens >= tpm):
            return requests, tokens, False
        if reserve > 0:
            tokens = self._values[tokens_key] = tokens + reserve
        return requests, tokens, True

    async def charge(self, tokens_key: str, tokens: int) -> None:
        self._roll()
        self._values[tokens_key] = self._values.get(tokens_key, 0) + tokens

    async def close(self) -> None:
        return None


class RedisCounters:
    def __init__(self, url: str, sentinels: list[str] | None = None, master: str = "sage") -> None:
        from sage_runtime.redis_connect import redis_async

        # with sentinels: the primary they name, found again after a failover
        self._redis: Any = redis_async(url, sentinels, master)
        self._hit = self._redis.register_script(_HIT)
        self._charge = self._redis.register_script(_CHARGE)

    async def hit(
        self, requests_key: str, tokens_key: str, rpm: int = 0, tpm: int = 0, reserve: int = 0
    ) -> tuple[int, int, bool]:
        import redis.exceptions

        try:
            requests, tokens, admitted = await self._hit(
                keys=[requests_key, tokens_key], args=[WINDOW_S * 2, rpm, tpm, reserve]
            )
        except (redis.exceptions.RedisError, OSError) as exc:
            raise CountersUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return int(requests), int(tokens), bool(admitted)

    async def charge(self, tokens_key: str, tokens: int) -> None:
        import redis.exceptions

        try:
            await self._charge(keys=[tokens_key], args=[tokens, WINDOW_S * 2])
        except (redis.exceptions.RedisError, OSError) as exc:
            raise CountersUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()


def reservation(max_tokens: int | None, context: int, prompt_bytes: int, messages: int) -> int:
    """Tokens a request reserves at admission: the most it can use, ``min(prompt + max_tokens,
    context)``, with the prompt estimated from its size (at most a token per UTF-8 byte, plus a
    few per message for the chat template) since it is not tokenized yet."""
    asked = max_tokens or context
    return max(1, min(asked + prompt_bytes + 8 * messages, context))


def _unavailable(exc: CountersUnavailable) -> GatewayError:
    return GatewayError(
        503,
        f"the rate limiter's store is unavailable ({exc}); retry shortly",
        "server_error",
        code="rate_limiter_unavailable",
        headers={"retry-after": str(UNAVAILABLE_RETRY_S)},
    )


class RateLimiter:
    def __init__(
        self, counters: Counters, default_rpm: int, default_tpm: int, max_concurrent: int = 0
    ) -> None:
        self._counters = counters
        self._default_rpm = default_rpm
        self._default_tpm = default_tpm
        self.max_concurrent = max_concurrent
        self._in_flight: dict[str, int] = {}

    @asynccontextmanager
    async def slot(self, who: Principal) -> AsyncIterator[None]:
        """Hold one of the key's ``max_concurrent`` places on this instance; 429 when none is free."""
        key = who.limit_key
        held = self._in_flight.get(key, 0)
        if self.max_concurrent and held >= self.max_concurrent:
            raise GatewayError(
                429,
                f"too many requests at once: {self.max_concurrent} in flight for this key "
                "(max_concurrent_per_key); retry when one ends",
                "rate_limit_exceeded",
                code="concurrency_limit",
                headers={"retry-after": "1"},
            )
        self._in_flight[key] = held + 1
        try:
            yield
        finally:
            left = self._in_flight[key] - 1
            if left:
                self._in_flight[key] = left
            else:
                del self._in_flight[key]

    def limits(self, who: Principal) -> tuple[int, int]:
        return who.rpm or self._default_rpm, who.tpm or self._default_tpm

    @staticmethod
    def _keys(who: Principal) -> tuple[str, str]:
        window = int(time.time() // WINDOW_S)
        base = f"sage:gateway:rl:{who.limit_key}:{window}"
        return f"{base}:r", f"{base}:t"

    async def admit(self, who: Principal) -> dict[str, str]:
        """Count one request (reserving nothing); the headers to send, or a 429 GatewayError."""
        return (await self.admit_request(who, 0)).headers

    async def admit_request(self, who: Principal, reserve: int) -> Admission:
        """Count one request and reserve ``reserve`` tokens for it; a 429 GatewayError when the key
        is over a limit, a 503 one when the counters cannot be reached."""
        rpm, tpm = self.limits(who)
        if not rpm and not tpm:
            return Admission()
        requests_key, tokens_key = self._keys(who)
        reserve = max(0, reserve) if tpm else 0
        try:
            requests, tokens, admitted = await self._counters.hit(
                requests_key, tokens_key, rpm, tpm, reserve
            )
        except CountersUnavailable as exc:
            raise _unavailable(exc) from None
        reset = WINDOW_S - time.time() % WINDOW_S
        headers: dict[str, str] = {}
        if rpm:
            headers |= {
                "x-ratelimit-limit-requests": str(rpm),
                "x-ratelimit-remaining-requests": str(max(0, rpm - requests)),
                "x-ratelimit-reset-requests": f"{reset:.0f}s",
            }
        if tpm:
            headers |= {
                "x-ratelimit-limit-tokens": str(tpm),
                "x-ratelimit-remaining-tokens": str(max(0, tpm - tokens)),
                "x-ratelimit-reset-tokens": f"{reset:.0f}s",
            }
        over = None
        if not admitted:
            over = ("requests", rpm) if rpm and requests > rpm else ("tokens", tpm)
        if over is not None:
            headers["retry-after"] = str(max(1, math.ceil(reset)))
            raise GatewayError(
                429,
                f"rate limit reached: {over[1]} {over[0]} per minute for this key; "
                f"retry after {headers['retry-after']}s",
                "rate_limit_exceeded",
                code=f"rate_limit_{over[0]}",
                headers=headers,
            )
        return Admission(headers, tokens_key, reserve)

    async def settle(self, admission: Admission, used: int) -> None:
        """Charge what the request really used against its reservation (a refund when it used less),
        in the window it was admitted in. A counters failure here is logged: the reply is out."""
        delta = max(0, used) - admission.reserved
        if not admission.tokens_key or not delta:
            return
        try:
            await self._counters.charge(admission.tokens_key, delta)
        except CountersUnavailable as exc:
            log.warning("settling tokens failed", extra={"fields": {"error": str(exc)}})

    async def charge(self, who: Principal, tokens: int) -> None:
        if tokens > 0 and self.limits(who)[1]:
            try:
                await self._counters.charge(self._keys(who)[1], tokens)
            except CountersUnavailable as exc:
                log.warning("charging tokens failed", extra={"fields": {"error": str(exc)}})
