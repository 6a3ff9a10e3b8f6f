"""JWT bearer tokens (PyJWT): HS256 with the gateway's secret; exp, nbf and aud are checked."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from tests.gateway.conftest import JWT_AUDIENCE, JWT_SECRET, LiveMesh


def token(**claims: object) -> str:
    now = int(time.time())
    body = {"sub": "jwt-user", "aud": JWT_AUDIENCE, "exp": now + 60, "nbf": now - 5, **claims}
    return jwt.encode(
        {k: v for k, v in body.items() if v is not None}, JWT_SECRET, algorithm="HS256"
    )


def sessions(mesh: LiveMesh, bearer: str) -> httpx.Response:
    return httpx.get(
        f"{mesh.base_url}/sessions", headers={"authorization": f"Bearer {bearer}"}, timeout=10
    )


def test_a_valid_token_is_accepted(live_mesh: LiveMesh) -> None:
    assert sessions(live_mesh, token()).status_code == 200


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"exp": int(time.time()) - 10}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"aud": "someone-else"}, "audience"),
        ({"exp": None}, "exp"),
    ],
)
def test_a_token_failing_a_check_is_refused_saying_which(
    live_mesh: LiveMesh, claims: dict, words: str
) -> None:
    reply = sessions(live_mesh, token(**claims))
    assert reply.status_code == 401
    assert (
        reply.json()["error"]["type"] == "authentication_error"
        and words in reply.json()["error"]["message"]
    )


def test_a_token_signed_with_another_secret_is_refused(live_mesh: LiveMesh) -> None:
    forged = jwt.encode(
        {"sub": "x", "aud": JWT_AUDIENCE, "exp": int(time.time()) + 60},
        "wrong-secret-" * 4,
        algorithm="HS256",
    )
    assert sessions(live_mesh, forged).status_code == 401


def test_an_algorithm_that_is_not_configured_is_refused(live_mesh: LiveMesh) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rs = jwt.encode(
        {"sub": "x", "aud": JWT_AUDIENCE, "exp": int(time.time()) + 60}, private, algorithm="RS256"
    )
    reply = sessions(live_mesh, rs)
    assert reply.status_code == 401 and "RS256" in reply.json()["error"]["message"]
