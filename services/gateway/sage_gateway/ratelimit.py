"""Per-key limits: requests per minute and tokens per minute, in one-minute windows.

Counters live in Redis when ``redis_url`` is set, so every gateway instance counts against
the same budget; otherwise in this process. A request is admitted when its window has fewer
than ``rpm`` requests and fewer than ``tpm`` tokens spent; the tokens a completion used are
charged after it ends. A refusal is a 429 with ``Retry-After`` (seconds to the next window)
and OpenAI's ``x-ratelimit-*`` headers.
"""
from __future__ import annotations

import math
import time
from typing import Any, Protocol

from sage_gateway.auth import Principal
from sage_gateway.errors import GatewayError

WINDOW_S = 60
_HIT = """
local r = redis.call('INCR', KEYS[1])
if r == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local t = tonumber(redis.call('GET', KEYS[2]) or '0')
return {r, t}
"""
_CHARGE = """
local t = redis.call('INCRBY', KEYS[1], ARGV[1])
if t == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return t
"""


class Counters(Protocol):
    async def hit(self, requests_key: str, tokens_key: str) -> tuple[int, int]: ...
    async def charge(self, tokens_key: str, tokens: int) -> None: ...
    async def close(self) -> None: ...


class LocalCounters:
    def __init__(self) -> None:
        self._values: dict[str, int] = {}
        self._window = -1

    def _roll(self) -> None:
        window = int(time.time() // WINDOW_S)
        if window != self._window:
            self._values.clear()
            self._window = window

    async def hit(self, requests_key: str, tokens_key: str) -> tuple[int, int]:
        self._roll()
        self._values[requests_key] = self._values.get(requests_key, 0) + 1
        return self._values[requests_key], self._values.get(tokens_key, 0)

    async def charge(self, tokens_key: str, tokens: int) -> None:
        self._roll()
        self._values[tokens_key] = self._values.get(tokens_key, 0) + tokens

    async def close(self) -> None:
        return None


class RedisCounters:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.Redis.from_url(url)
        self._hit = self._redis.register_script(_HIT)
        self._charge = self._redis.register_script(_CHARGE)

    async def hit(self, requests_key: str, tokens_key: str) -> tuple[int, int]:
        requests, tokens = await self._hit(keys=[requests_key, tokens_key], args=[WINDOW_S * 2])
        return int(requests), int(tokens)

    async def charge(self, tokens_key: str, tokens: int) -> None:
        await self._charge(keys=[tokens_key], args=[tokens, WINDOW_S * 2])

    async def close(self) -> None:
        await self._redis.aclose()


class RateLimiter:
    def __init__(self, counters: Counters, default_rpm: int, default_tpm: int) -> None:
        self._counters = counters
        self._default_rpm = default_rpm
        self._default_tpm = default_tpm

    def limits(self, who: Principal) -> tuple[int, int]:
        return who.rpm or self._default_rpm, who.tpm or self._default_tpm

    @staticmethod
    def _keys(who: Principal) -> tuple[str, str]:
        window = int(time.time() // WINDOW_S)
        base = f"sage:gateway:rl:{who.limit_key}:{window}"
        return f"{base}:r", f"{base}:t"

    async def admit(self, who: Principal) -> dict[str, str]:
        """Count one request; the headers to send, or a 429 GatewayError."""
        rpm, tpm = self.limits(who)
        if not rpm and not tpm:
            return {}
        requests_key, tokens_key = self._keys(who)
        requests, tokens = await self._counters.hit(requests_key, tokens_key)
        reset = WINDOW_S - time.time() % WINDOW_S
        headers: dict[str, str] = {}
        if rpm:
            headers |= {"x-ratelimit-limit-requests": str(rpm),
                        "x-ratelimit-remaining-requests": str(max(0, rpm - requests)),
                        "x-ratelimit-reset-requests": f"{reset:.0f}s"}
        if tpm:
            headers |= {"x-ratelimit-limit-tokens": str(tpm),
                        "x-ratelimit-remaining-tokens": str(max(0, tpm - tokens)),
                        "x-ratelimit-reset-tokens": f"{reset:.0f}s"}
        over = ("requests", rpm) if rpm and requests > rpm else ("tokens", tpm) if tpm and tokens >= tpm else None
        if over is not None:
            headers["retry-after"] = str(max(1, math.ceil(reset)))
            raise GatewayError(429, f"rate limit reached: {over[1]} {over[0]} per minute for this key; "
                               f"retry after {headers['retry-after']}s", "rate_limit_exceeded",
                               code=f"rate_limit_{over[0]}", headers=headers)
        return headers

    async def charge(self, who: Principal, tokens: int) -> None:
        if tokens > 0 and self.limits(who)[1]:
            await self._counters.charge(self._keys(who)[1], tokens)
