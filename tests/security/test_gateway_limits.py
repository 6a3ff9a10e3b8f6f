"""Fairness and bounds at the gateway, against a real mesh: one key's flood is capped (429) while
another key is served at once; TPM is reserved at admission so concurrent requests cannot
overspend it; JWT scopes are exact tokens; request fields have strict types; a Redis outage
in the rate limiter is a 503 with Retry-After."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from sage_deploy.processes import free_port
from sage_gateway.auth import Principal
from sage_gateway.errors import GatewayError
from sage_gateway.ratelimit import RateLimiter, RedisCounters, reservation
from tests.conftest import Infra, ServiceProcess, spawn_service
from tests.gateway.conftest import JWT_AUDIENCE, JWT_SECRET, LiveMesh, bring_up, gateway_topology

PER_KEY = 4
TOKENS_PER_S = 20


def _token(sub: str, **claims: object) -> str:
    return jwt.encode(
        {"sub": sub, "aud": JWT_AUDIENCE, "exp": int(time.time()) + 600, **claims},
        JWT_SECRET,
        algorithm="HS256",
    )


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def limits_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMesh]:
    yield from bring_up(
        tmp_path_factory.mktemp("limits-mesh"),
        gateway_topology(
            llm_replicas=1,
            tokens_per_s=TOKENS_PER_S,
            gateway_env={
                "SAGE_MAX_CONCURRENT_PER_KEY": str(PER_KEY),
                "SAGE_PIPELINE_WORKERS": "16",
            },
        ),
    )


def _chat_body(
    content: str = "hello there", max_tokens: object = 3, **extra: object
) -> dict[str, object]:
    return {
        "model": "",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        **extra,
    }


async def _flood_and_probe(
    url: str, flooder: str, other: str, n: int
) -> tuple[list[int], list[str], float, int]:
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def stream() -> tuple[int, str]:
            async with client.stream(
                "POST",
                f"{url}/v1/chat/completions",
                headers=_auth(flooder),
                json=_chat_body(max_tokens=100, stream=True),
            ) as reply:
                body = await reply.aread()
                code = reply.json()["error"]["code"] if reply.status_code != 200 else ""
                return reply.status_code, code if body else ""

        flood = [asyncio.create_task(stream()) for _ in range(n)]
        await asyncio.sleep(0.5)  # the flood is in
        start = time.perf_counter()
        probe = await client.post(
            f"{url}/v1/chat/completions", headers=_auth(other), json=_chat_body()
        )
        waited = time.perf_counter() - start
        results = await asyncio.gather(*flood)
    return [s for s, _ in results], [c for _, c in results], waited, probe.status_code


def test_one_keys_flood_is_capped_and_another_key_is_served_at_once(limits_mesh: LiveMesh) -> None:
    tag = uuid.uuid4().hex[:6]
    statuses, codes, waited, probe = asyncio.run(
        _flood_and_probe(
            limits_mesh.gateway_url, _token(f"flooder-{tag}"), _token(f"patient-{tag}"), 120
        )
    )
    assert probe == 200
    assert waited < 2.0, f"the other key's request waited {waited:.2f}s behind the flood"
    assert statuses.count(200) >= 1
    assert statuses.count(200) <= PER_KEY * 3  # a few more may start as the first ones end
    refused = [c for s, c in zip(statuses, codes, strict=True) if s == 429]
    assert len(refused) >= 120 - PER_KEY * 3 and set(refused) == {"concurrency_limit"}


async def _concurrent_chats(url: str, token: str, n: int, max_tokens: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=120) as client:
        return await asyncio.gather(
            *(
                client.post(
                    f"{url}/v1/chat/completions",
                    headers=_auth(token),
                    json=_chat_body("count to ten", max_tokens=max_tokens),
                )
                for _ in range(n)
            )
        )


def test_concurrent_requests_never_overspend_tpm_by_more_than_one_reservation(
    limits_mesh: LiveMesh,
) -> None:
    tpm, max_tokens, n = 100, 40, PER_KEY  # no more than the concurrency cap: only TPM refuses
    token = _token(f"tpm-{uuid.uuid4().hex[:6]}", tpm=tpm)
    replies = asyncio.run(_concurrent_chats(limits_mesh.gateway_url, token, n, max_tokens))
    served = [r for r in replies if r.status_code == 200]
    refused = [r for r in replies if r.status_code == 429]
    assert len(served) + len(refused) == n, [r.text for r in replies]
    assert refused and all(r.json()["error"]["code"] == "rate_limit_tokens" for r in refused)
    spent = sum(r.json()["usage"]["total_tokens"] for r in served)
    one = reservation(max_tokens, 4096, len("count to ten"), 1)
    assert spent <= tpm + one, f"{len(served)} requests spent {spent} tokens of a {tpm} tpm budget"


async def test_unused_reservation_is_refunded_to_its_window(redis_server: Infra) -> None:
    counters = RedisCounters(f"redis://{redis_server.address}/0")
    who = Principal("refund", False, f"key:refund-{uuid.uuid4().hex[:6]}", tpm=1000)
    limiter = RateLimiter(counters, 0, 0)
    try:
        for _ in range(
            5
        ):  # 5 x 900 reserved, 5 x 20 used: without the refund the second is refused
            admission = await limiter.admit_request(who, 900)
            assert admission.reserved == 900
            await limiter.settle(admission, 20)
        held = await limiter.admit_request(
            who, 900
        )  # now 100 spent + 900 held: the next is refused
        with pytest.raises(GatewayError) as err:
            await limiter.admit_request(who, 900)
        assert err.value.status == 429 and err.value.code == "rate_limit_tokens"
        await limiter.settle(held, 0)
        await limiter.admit_request(who, 900)  # refunded in full: room again
    finally:
        await counters.close()


@pytest.mark.parametrize(
    ("claims", "admin"),
    [
        ({"scopes": "no-admin"}, False),
        ({"scope": "no-admin"}, False),
        ({"scopes": ["no-admin", "read"]}, False),
        ({"scopes": "read admin"}, True),
        ({"scope": "admin"}, True),
        ({"scopes": ["admin"]}, True),
    ],
)
def test_jwt_scopes_are_matched_as_exact_tokens(
    limits_mesh: LiveMesh, claims: dict[str, object], admin: bool
) -> None:
    reply = httpx.post(
        f"{limits_mesh.gateway_url}/v1/sessions/cleanup",
        headers=_auth(_token(f"scopes-{uuid.uuid4().hex[:6]}", **claims)),
    )
    assert reply.status_code == (200 if admin else 403), reply.text


def test_jwt_scopes_of_the_wrong_type_are_refused(limits_mesh: LiveMesh) -> None:
    reply = httpx.post(
        f"{limits_mesh.gateway_url}/v1/sessions/cleanup",
        headers=_auth(_token("bad-scopes", scopes={"admin": True})),
    )
    assert reply.status_code == 401
    assert "scopes" in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (_chat_body(max_tokens="12"), "max_tokens"),
        (_chat_body(max_tokens=12.5), "max_tokens"),
        (_chat_body(max_tokens=12.0), "max_tokens"),
        (_chat_body(max_tokens=True), "max_tokens"),
        (_chat_body(stream="true"), "stream"),
        (_chat_body(temperature="0.5"), "temperature"),
        ({"model": "", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ],
)
def test_request_fields_have_strict_types_and_public_names(
    limits_mesh: LiveMesh, body: dict[str, object], param: str
) -> None:
    reply = httpx.post(
        f"{limits_mesh.gateway_url}/v1/chat/completions",
        json=body,
        headers=_auth(_token(f"types-{uuid.uuid4().hex[:6]}")),
    )
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert error["message"].startswith(f"{param}:")


def test_an_integer_max_tokens_is_served(limits_mesh: LiveMesh) -> None:
    reply = httpx.post(
        f"{limits_mesh.gateway_url}/v1/chat/completions",
        json=_chat_body(max_tokens=2),
        headers=_auth(_token(f"types-{uuid.uuid4().hex[:6]}")),
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["usage"]["completion_tokens"] <= 2


@pytest.fixture
def gateway_without_redis(tmp_path: Path) -> Iterator[ServiceProcess]:
    """A gateway whose rate-limit Redis is down (nothing listens on its port)."""
    proc = spawn_service(
        tmp_path,
        "gateway-no-redis",
        "sage_gateway",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        jwt_hs256_secret=JWT_SECRET,
        jwt_audience=JWT_AUDIENCE,
        memory_enabled="false",
    )
    yield proc
    proc.proc.stop(grace=3)


def test_redis_down_in_the_rate_limiter_is_503_with_retry_after(
    gateway_without_redis: ServiceProcess,
) -> None:
    reply = httpx.post(
        f"http://{gateway_without_redis.address}/v1/chat/completions",
        json=_chat_body(),
        headers=_auth(_token("redis-down")),
        timeout=30,
    )
    assert reply.status_code == 503, reply.text
    assert int(reply.headers["retry-after"]) >= 1
    assert reply.json()["error"]["code"] == "rate_limiter_unavailable"
