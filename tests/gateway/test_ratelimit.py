"""Rate limits counted in Redis are shared by every gateway instance."""

from __future__ import annotations

import pytest

from sage_gateway.auth import Principal
from sage_gateway.errors import GatewayError
from sage_gateway.ratelimit import RateLimiter, RedisCounters
from tests.conftest import Infra


async def test_two_instances_share_one_request_budget(redis_server: Infra) -> None:
    url = f"redis://{redis_server.address}/0"
    first, second = RedisCounters(url), RedisCounters(url)
    who = Principal("shared", False, "key:shared-budget", rpm=3)
    try:
        a, b = RateLimiter(first, 0, 0), RateLimiter(second, 0, 0)
        await a.admit(who)
        await b.admit(who)
        headers = await a.admit(who)
        assert headers["x-ratelimit-remaining-requests"] == "0"
        with pytest.raises(GatewayError) as err:
            await b.admit(who)
        assert err.value.status == 429 and int(err.value.headers["retry-after"]) >= 1
    finally:
        await first.close()
        await second.close()


async def test_tokens_charged_by_one_instance_block_the_other(redis_server: Infra) -> None:
    url = f"redis://{redis_server.address}/0"
    first, second = RedisCounters(url), RedisCounters(url)
    who = Principal("tokens", False, "key:shared-tokens", tpm=100)
    try:
        await RateLimiter(first, 0, 0).admit(who)
        await RateLimiter(first, 0, 0).charge(who, 100)
        with pytest.raises(GatewayError) as err:
            await RateLimiter(second, 0, 0).admit(who)
        assert err.value.code == "rate_limit_tokens"
    finally:
        await first.close()
        await second.close()


async def test_a_key_without_limits_is_not_counted(redis_server: Infra) -> None:
    counters = RedisCounters(f"redis://{redis_server.address}/0")
    try:
        assert await RateLimiter(counters, 0, 0).admit(Principal("free", False, "key:free")) == {}
    finally:
        await counters.close()
