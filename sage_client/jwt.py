"""JWTs of the mesh: the one verifier (the gateway checks its bearer tokens with it) and
``JWTManager``, SAGE's create / verify / refresh (seed 000: ``middleware.auth.secret_key`` and
``algorithm`` of ``config.yaml``).

Checks (PyJWT): the signature with the algorithm's key (HS256: a shared secret; RS256: a public
key, PEM text or a path), ``exp`` always (and ``nbf`` when present), ``aud`` when an audience is
configured, and the required claims (default ``exp`` and ``sub``). Scopes come from ``scope``
and ``scopes`` (a list of strings or one space-separated string), as exact tokens.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt as pyjwt

DEFAULT_ALGORITHM = "HS256"
SECRET_ENV = "SAGE_JWT_SECRET"


class TokenError(ValueError):
    """A token failed a check; the message says which (``reason``: a short name of it)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _key_text(value: str) -> str:
    if value and "BEGIN" not in value:
        return Path(value).read_text()
    return value


def token_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """The token's scopes, as exact tokens, from ``scope`` and ``scopes``."""
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
            raise TokenError(
                f"bearer token claim `{name}` must be a list of strings or a space-separated string",
                "claims",
            )
    return frozenset(out)


class JWTVerifier:
    """Verifies tokens signed with one of ``keys`` (algorithm -> key)."""

    def __init__(
        self,
        keys: Mapping[str, Any],
        audience: str | None = None,
        required: Sequence[str] = ("exp", "sub"),
        leeway_s: float = 0.0,
    ) -> None:
        self.keys = {
            alg: (_key_text(k) if alg.startswith(("RS", "ES")) else k)
            for alg, k in keys.items()
            if k
        }
        self.audience = audience or None
        self.required = list(required)
        self.leeway_s = leeway_s

    def verify(self, token: str, audience: str | None = None) -> dict[str, Any]:
        """The token's claims; TokenError naming the failed check."""
        try:
            header = pyjwt.get_unverified_header(token)
        except pyjwt.PyJWTError as exc:
            raise TokenError(f"malformed bearer token: {exc}", "malformed") from None
        algorithm = header.get("alg", "")
        key = self.keys.get(algorithm)
        if key is None:
            accepted = ", ".join(self.keys) or "none configured"
            raise TokenError(
                f"bearer tokens signed with {algorithm!r} are not accepted (accepted: {accepted})",
                "algorithm",
            )
        audience = audience or self.audience
        try:
            claims = pyjwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=audience,
                leeway=self.leeway_s,
                options={"require": self.required, "verify_aud": audience is not None},
            )
        except pyjwt.ExpiredSignatureError:
            raise TokenError("bearer token has expired (`exp`)", "expired") from None
        except pyjwt.ImmatureSignatureError:
            raise TokenError("bearer token is not valid yet (`nbf`)", "not_yet_valid") from None
        except pyjwt.InvalidAudienceError:
            raise TokenError(
                f"bearer token is not for this audience (expected aud={audience!r})", "audience"
            ) from None
        except pyjwt.InvalidSignatureError:
            raise TokenError(
                "invalid bearer token: its signature does not match", "signature"
            ) from None
        except pyjwt.PyJWTError as exc:
            raise TokenError(f"invalid bearer token: {exc}", "invalid") from None
        if "sub" in self.required and not str(claims.get("sub", "")).strip():
            raise TokenError("bearer token has an empty subject (`sub`)", "claims")
        token_scopes(claims)  # malformed scope claims fail here, not later
        return claims


def _middleware_auth(config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if config is None:
        from sage_client.providers import middleware_config

        config = middleware_config()
    return (config.get("middleware") or {}).get("auth") or {}


class JWTManager(JWTVerifier):
    """SAGE's JWT manager: ``create_token``, ``verify_token``, ``refresh_token``.

    Settings: arguments, else ``middleware.auth.{secret_key, algorithm, audience, expires_s}``
    of ``config`` (default: ``config.yaml`` as ``sage_client.providers`` finds it), else
    ``SAGE_JWT_SECRET``. HS* algorithms sign with the secret; RS256 needs ``private_key`` to
    sign and ``public_key`` to verify (PEM text or paths)."""

    def __init__(
        self,
        secret_key: str | None = None,
        algorithm: str | None = None,
        *,
        audience: str | None = None,
        issuer: str | None = None,
        expires_s: float | None = None,
        private_key: str | None = None,
        public_key: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        auth = _middleware_auth(config) if secret_key is None or algorithm is None else {}
        self.algorithm = algorithm or str(auth.get("algorithm") or DEFAULT_ALGORITHM)
        secret = secret_key or auth.get("secret_key") or os.environ.get(SECRET_ENV, "")
        if self.algorithm.startswith("HS"):
            if not secret:
                raise ValueError(
                    "JWTManager needs a secret: secret_key=, middleware.auth.secret_key in "
                    f"config.yaml, or {SECRET_ENV}"
                )
            if len(str(secret)) < 32:
                raise ValueError("the JWT secret must be at least 32 characters")
            self._signing_key: Any = str(secret)
            verify_key: Any = str(secret)
        else:
            self._signing_key = _key_text(private_key or str(auth.get("private_key") or ""))
            verify_key = public_key or auth.get("public_key") or ""
            if not verify_key:
                raise ValueError(f"{self.algorithm} needs public_key= (and private_key= to sign)")
        self.issuer = issuer or auth.get("issuer") or None
        self.expires_s = float(expires_s or auth.get("expires_s") or 3600)
        super().__init__(
            {self.algorithm: verify_key}, audience=audience or auth.get("audience") or None
        )

    def create_token(
        self,
        subject: str,
        *,
        scopes: Iterable[str] = (),
        expires_s: float | None = None,
        audience: str | None = None,
        **claims: Any,
    ) -> str:
        """A signed token for ``subject`` with ``scopes``, valid ``expires_s`` (default the
        manager's) from now; extra ``claims`` (``rpm``, ``tpm``...) are added as given."""
        if not isinstance(subject, str) or not subject.strip():
            raise ValueError("a token needs a non-empty subject")
        if not self._signing_key:
            raise ValueError(f"no private key to sign {self.algorithm} tokens with")
        now = int(time.time())
        body: dict[str, Any] = {
            **claims,
            "sub": subject,
            "iat": now,
            "exp": now + int(expires_s if expires_s is not None else self.expires_s),
        }
        scope_list = sorted(set(scopes))
        if scope_list:
            body["scope"] = " ".join(scope_list)
        aud = audience or self.audience
        if aud:
            body["aud"] = aud
        if self.issuer:
            body["iss"] = self.issuer
        return pyjwt.encode(body, self._signing_key, algorithm=self.algorithm)

    def verify_token(self, token: str, audience: str | None = None) -> dict[str, Any]:
        return self.verify(token, audience)

    def scopes(self, token: str) -> frozenset[str]:
        return token_scopes(self.verify(token))

    def refresh_token(self, token: str, expires_s: float | None = None) -> str:
        """A new token with the same subject, scopes and claims and a new expiry; the old one
        must still verify (an expired token is not refreshed)."""
        claims = self.verify(token)
        keep = {k: v for k, v in claims.items() if k not in ("exp", "iat", "nbf", "sub", "scope")}
        scopes = token_scopes(claims)
        keep.pop("scopes", None)
        aud = keep.pop("aud", None)
        return self.create_token(
            str(claims["sub"]),
            scopes=scopes,
            expires_s=expires_s,
            audience=aud if isinstance(aud, str) else None,
            **keep,
        )
