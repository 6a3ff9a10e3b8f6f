"""Who is calling: an API key (``Authorization: Bearer sk-sage-...``) or a JWT bearer token.

JWTs are checked by the mesh's one verifier, ``sage_client.jwt.JWTVerifier`` (PyJWT: HS256
against a shared secret, RS256 against a public key; ``exp`` and ``nbf`` always, ``aud`` when an
audience is configured), the one ``JWTManager`` tokens are checked with too. The subject (``sub``) is
the user; a token whose ``scope`` or ``scopes`` claim (a list of strings or one space-separated
string) holds the exact scope ``admin`` is an admin (``"no-admin"`` is not). The key's or token's ``rpm``/``tpm`` claims set its rate limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sage_client.api_keys import PREFIX, AsyncKeyLookup
from sage_client.jwt import JWTVerifier, TokenError, token_scopes
from sage_gateway.config import GatewayConfig
from sage_gateway.errors import GatewayError, unauthenticated


@dataclass(frozen=True)
class Principal:
    user: str
    admin: bool
    limit_key: str  # what rate limits are counted against
    rpm: int = 0
    tpm: int = 0


ANONYMOUS = Principal(user="anonymous", admin=True, limit_key="anonymous")


class Authenticator:
    def __init__(self, config: GatewayConfig, keys: AsyncKeyLookup) -> None:
        self._config = config
        self._keys = keys
        jwt_keys: dict[str, Any] = {}
        if config.jwt_hs256_secret:
            jwt_keys["HS256"] = config.jwt_hs256_secret
        if config.jwt_rs256_public_key:
            jwt_keys["RS256"] = config.jwt_rs256_public_key
        # the mesh's one JWT verifier (sage_client.jwt), which JWTManager's tokens pass
        self._jwt = JWTVerifier(jwt_keys, audience=config.jwt_audience or None)

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            if not self._config.require_auth:
                return ANONYMOUS
            raise unauthenticated(
                "missing API key: send `Authorization: Bearer <key>` "
                "(create one with `sage keys create --user NAME`)"
            )
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise unauthenticated("the Authorization header must be `Bearer <key or token>`")
        if credential.startswith(PREFIX):
            record = await self._keys.find(credential)
            if record is None:
                raise unauthenticated("invalid API key: it is unknown or was revoked")
            return Principal(record.user, record.admin, f"key:{record.id}", record.rpm, record.tpm)
        if credential.count(".") == 2:
            return self._from_jwt(credential)
        raise unauthenticated("invalid API key: expected `sk-sage-...` or a JWT")

    def _from_jwt(self, token: str) -> Principal:
        try:
            claims = self._jwt.verify(token)
            scopes = token_scopes(claims)
        except TokenError as exc:
            raise unauthenticated(str(exc)) from None
        user = str(claims["sub"])
        try:
            rpm, tpm = int(claims.get("rpm", 0)), int(claims.get("tpm", 0))
        except (TypeError, ValueError):
            raise GatewayError(
                401, "bearer token claims rpm/tpm must be integers", "authentication_error"
            ) from None
        return Principal(user, "admin" in scopes, f"user:{user}", rpm, tpm)
