"""CORS: browser origins come from configuration (`cors_origins`), none by default. The gateway
app in-process over ASGI (no mesh needed: preflights and these reads touch no service)."""

from __future__ import annotations

import httpx
import pytest

from sage_gateway.app import GatewayApp
from sage_gateway.config import GatewayConfig

ALLOWED = "https://chat.example.com"


def client(**settings: object) -> httpx.AsyncClient:
    app = GatewayApp(GatewayConfig(**settings))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


def preflight(origin: str) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }


async def test_a_configured_origin_gets_the_preflight_and_the_headers() -> None:
    async with client(cors_origins=[ALLOWED]) as http:
        answer = await http.options("/v1/chat/completions", headers=preflight(ALLOWED))
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in answer.headers["access-control-allow-methods"]
        assert "authorization" in answer.headers["access-control-allow-headers"]
        read = await http.get("/openapi.json", headers={"origin": ALLOWED})
        assert read.status_code == 200
        assert read.headers["access-control-allow-origin"] == ALLOWED
        assert "x-request-id" in read.headers["access-control-expose-headers"]


async def test_another_origin_is_refused_in_openais_shape() -> None:
    async with client(cors_origins=[ALLOWED]) as http:
        answer = await http.options(
            "/v1/chat/completions", headers=preflight("https://evil.example.net")
        )
        assert answer.status_code == 403
        assert "access-control-allow-origin" not in answer.headers
        assert "cors_origins" in answer.json()["error"]["message"]
        read = await http.get("/openapi.json", headers={"origin": "https://evil.example.net"})
        assert "access-control-allow-origin" not in read.headers


@pytest.mark.parametrize("settings", [{}, {"cors_origins": []}])
async def test_no_origin_is_allowed_by_default(settings: dict[str, object]) -> None:
    async with client(**settings) as http:
        answer = await http.options("/v1/chat/completions", headers=preflight(ALLOWED))
        assert answer.status_code == 403
        assert "access-control-allow-origin" not in answer.headers


async def test_a_wildcard_allows_any_origin() -> None:
    async with client(cors_origins=["*"]) as http:
        answer = await http.options("/v1/models", headers=preflight("http://localhost:5173"))
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == "http://localhost:5173"
