"""Who is calling: an API key (``Authorization: Bearer sk-sage-...``) or a JWT bearer token.

JWTs are checked with PyJWT: HS256 against a shared secret, RS256 against a public key;
``exp`` and ``nbf`` always, ``aud`` when an audience is configured. The subject (``sub``) is
the user; a token whose ``scope`` or ``scopes`` claim (a list of strings or one space-separated
string) holds the exact scope ``admin`` is an admin (``"no-admin"`` is not). The key's or token's ``rpm``/``tpm`` claims set its rate limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from sage_gateway.config import GatewayConfig
from sage_gateway.errors import GatewayError, unauthenticated
from sage_gateway.keys import PREFIX, AsyncKeyLookup


@dataclass(frozen=True)
class Principal:
    user: str
    admin: bool
    limit_key: str  # what rate limits are counted against
    rpm: int = 0
    tpm: int = 0


ANONYMOUS = Principal(user="anonymous", admin=True, limit_key="anonymous")


def _public_key(value: str) -> str:
    if value and "BEGIN" not in value:
        return Path(value).read_text()
    return value


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    """The token's scopes, as exact tokens, from ``scope`` and ``scopes`` (list or space-separated)."""
    out: set[str] = set()
    for name in ("scope", "scopes"):
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            out.update(value.split())
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out.update(v.strip() for v in value)
        else:
            raise unauthenticated(
                f"bearer token claim `{name}` must be a list of strings or a space-separated string"
            )
    return frozenset(out)


class Authenticator:
    def __init__(self, config: GatewayConfig, keys: AsyncKeyLookup) -> None:
        self._config = config
        self._keys = keys
        self._jwt_keys: dict[str, Any] = {}
        if config.jwt_hs256_secret:
            self._jwt_keys["HS256"] = config.jwt_hs256_secret
        if config.jwt_rs256_public_key:
            self._jwt_keys["RS256"] = _public_key(config.jwt_rs256_public_key)

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
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthenticated(f"malformed bearer token: {exc}") from None
        algorithm = header.get("alg", "")
        key = self._jwt_keys.get(algorithm)
        if key is None:
            accepted = ", ".join(self._jwt_keys) or "none configured"
            raise unauthenticated(
                f"bearer tokens signed with {algorithm!r} are not accepted (accepted: {accepted})"
            )
        audience = self._config.jwt_audience or None
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=audience,
                options={"require": ["exp", "sub"], "verify_aud": audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise unauthenticated("bearer token has expired (`exp`)") from None
        except jwt.ImmatureSignatureError:
            raise unauthenticated("bearer token is not valid yet (`nbf`)") from None
        except jwt.InvalidAudienceError:
            raise unauthenticated(
                f"bearer token is not for this audience (expected aud={audience!r})"
            ) from None
        except jwt.PyJWTError as exc:
            raise unauthenticated(f"invalid bearer token: {exc}") from None
        scopes = _scopes(claims)
        user = str(claims["sub"])
        if not user.strip():
            raise unauthenticated("bearer token has an empty subject (`sub`)")
        try:
            rpm, tpm = int(claims.get("rpm", 0)), int(claims.get("tpm", 0))
        except (TypeError, ValueError):
            raise GatewayError(
                401, "bearer token claims rpm/tpm must be integers", "authentication_error"
            ) from None
        return Principal(user, "admin" in scopes, f"user:{user}", rpm, tpm)
