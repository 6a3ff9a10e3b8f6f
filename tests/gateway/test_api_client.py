"""APIClient and JWTManager against the real gateway behind Envoy: provider ``sage`` with an
API key, streaming, and JWTManager's tokens accepted (or refused) by the gateway's verifier."""

from __future__ import annotations

import pytest

from sage_client.api_client import APIClient, AuthenticationError
from sage_client.jwt import JWTManager
from tests.gateway.conftest import JWT_AUDIENCE, JWT_SECRET, LiveMesh

MESSAGES = [{"role": "user", "content": "hello there"}]


def sage_client(mesh: LiveMesh, key: str) -> APIClient:
    providers = {"sage": {"base_url": mesh.base_url, "api_key": key, "model": "mock"}}
    return APIClient({"middleware": {"providers": providers}}, max_retries=1)


def test_chat_through_the_sage_provider(live_mesh: LiveMesh, make_key) -> None:
    with sage_client(live_mesh, make_key("api-client-user")) as client:
        reply = client.chat_completion(provider="sage", messages=MESSAGES, max_tokens=5)
        assert reply["choices"][0]["message"]["content"]
        chunks = list(
            client.chat_completion(provider="sage", messages=MESSAGES, max_tokens=5, stream=True)
        )
        text = "".join(
            c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
        )
        assert text


def test_a_jwt_manager_token_is_accepted_by_the_gateway(live_mesh: LiveMesh) -> None:
    manager = JWTManager(JWT_SECRET, audience=JWT_AUDIENCE)
    token = manager.refresh_token(manager.create_token("jwt-api-user", scopes=["chat"]))
    with sage_client(live_mesh, token) as client:
        reply = client.chat_completion(provider="sage", messages=MESSAGES, max_tokens=3)
        assert reply["choices"][0]["message"]["content"]


@pytest.mark.parametrize(
    ("token", "words"),
    [
        (JWTManager(JWT_SECRET, audience=JWT_AUDIENCE).create_token("x", expires_s=-5), "expired"),
        (JWTManager(JWT_SECRET, audience="elsewhere").create_token("x"), "audience"),
        ("sk-sage-not-a-key", "invalid API key"),
    ],
)
def test_the_gateway_refuses_a_bad_credential_typed(live_mesh: LiveMesh, token, words) -> None:
    with sage_client(live_mesh, token) as client:
        with pytest.raises(AuthenticationError, match=words) as refused:
            client.chat_completion(provider="sage", messages=MESSAGES, max_tokens=3)
        assert refused.value.status == 401
