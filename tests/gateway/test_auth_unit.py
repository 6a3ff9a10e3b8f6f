"""The Authenticator in-process (RS256 needs its own key pair), over the live mesh's KV."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sage_client import AsyncKVClient
from sage_client.api_keys import AsyncKeyLookup, key_hash, new_key
from sage_gateway.auth import Authenticator
from sage_gateway.config import GatewayConfig
from sage_gateway.errors import GatewayError
from tests.gateway.conftest import LiveMesh


def authenticator(mesh: LiveMesh, **settings: object) -> Authenticator:
    kv = AsyncKVClient(address=mesh.endpoints.instances["kv-0"])
    return Authenticator(GatewayConfig(**settings), AsyncKeyLookup(kv, cache_s=0))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rsa_pair() -> tuple[rsa.RSAPrivateKey, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


async def test_rs256_token_with_admin_scope_is_an_admin(
    live_mesh: LiveMesh, rsa_pair: tuple[rsa.RSAPrivateKey, str]
) -> None:
    private, public = rsa_pair
    auth = authenticator(live_mesh, jwt_rs256_public_key=public, jwt_audience="api")
    token = jwt.encode(
        {"sub": "ops", "aud": "api", "exp": int(time.time()) + 60, "scope": "chat admin", "rpm": 7},
        private,
        algorithm="RS256",
    )
    who = await auth.authenticate(f"Bearer {token}")
    assert (who.user, who.admin, who.rpm) == ("ops", True, 7)


async def test_api_key_maps_to_its_user_and_revoked_keys_are_refused(live_mesh: LiveMesh) -> None:
    store = live_mesh.keys()
    secret, record = store.create("k", "alice", rpm=3)
    auth = authenticator(live_mesh)
    who = await auth.authenticate(f"Bearer {secret}")
    assert (who.user, who.admin, who.rpm, who.limit_key) == ("alice", False, 3, f"key:{record.id}")
    store.revoke(record.id)
    with pytest.raises(GatewayError) as err:
        await auth.authenticate(f"Bearer {secret}")
    assert err.value.status == 401 and "revoked" in err.value.message


async def test_missing_credentials_are_refused_unless_auth_is_off(live_mesh: LiveMesh) -> None:
    with pytest.raises(GatewayError) as err:
        await authenticator(live_mesh).authenticate(None)
    assert "sage keys create" in err.value.message
    assert (
        await authenticator(live_mesh, require_auth=False).authenticate(None)
    ).user == "anonymous"


def test_only_the_hash_of_a_key_is_stored() -> None:
    secret, record = new_key("k", "alice")
    assert secret.encode() not in record.to_json()
    assert key_hash(secret).startswith(record.id)
