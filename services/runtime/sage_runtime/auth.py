"""Who is calling, and what they may do: principals, roles and the per-method policy.

Every service verifies the caller's bearer token against the mesh's secrets file
(``secrets_file`` / ``SAGE_SECRETS_FILE``, written by ``sage mesh up``; see
``sage_client.credentials`` for its shape). A token names a *principal*; a principal holds
*roles*:

- ``admin``: every RPC and every resource;
- ``service``: the mesh members' RPCs (KV, VDB, Memory, LLM, TSDB, diagnostics), never jobs;
- ``jobs``: submitting and managing jobs (code execution by design);
- ``user``: nothing internal; users reach the mesh through the gateway, which scopes
  their data by owner.

Some resources belong to one principal: the gateway's KV namespaces and the Memory
service's namespace and collection. ``check_resource`` refuses everyone else but
``admin``, for reads and writes alike.

An anonymous call gets UNAUTHENTICATED; a principal without the role gets
PERMISSION_DENIED. A service without any credential configured refuses to start unless
``allow_anonymous`` is set (a development instance), in which case every caller is the
principal ``anonymous`` with the admin role.
"""

from __future__ import annotations

import contextvars
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import grpc

from sage_client.credentials import CredentialsError, principals
from sage_proto.common.v1 import common_pb2
from sage_runtime.errors import ServiceError, unauthenticated

ADMIN, SERVICE, JOBS, USER = "admin", "service", "jobs", "user"
ROLES = frozenset({ADMIN, SERVICE, JOBS, USER})

# RPCs open to every caller: health only (Envoy's and orchestrators' probes carry no token).
OPEN_PREFIXES = ("/grpc.health.v1.",)

# Roles allowed per method prefix; the longest matching prefix wins. ``admin`` always passes.
_POLICY: tuple[tuple[str, frozenset[str]], ...] = (
    ("/sage.kernel.v1.JobService/", frozenset({JOBS})),
    ("/sage.tsdb.v1.TSDBService/", frozenset({SERVICE, JOBS})),
    ("/sage.tsdb.v1.TSDBService/Reset", frozenset()),  # admin only
    ("/", frozenset({SERVICE, JOBS})),
)

# Resources one principal owns: (kind, name) -> principals allowed besides admin.
OWNED_RESOURCES: dict[tuple[str, str], frozenset[str]] = {
    ("kv", "gateway-keys"): frozenset({"gateway"}),
    ("kv", "gateway-sessions"): frozenset({"gateway"}),
    ("kv", "sage-memory"): frozenset({"memory"}),
    ("vdb", "sage_memories"): frozenset({"memory"}),
}


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def has_any(self, roles: Iterable[str]) -> bool:
        return self.is_admin or not self.roles.isdisjoint(roles)


ANONYMOUS_ADMIN = Principal("anonymous", frozenset({ADMIN}))
_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "sage_principal", default=None
)


def current_principal() -> Principal | None:
    """The principal of the call being served (None outside a call)."""
    return _current.get()


def set_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def reset_principal(token: contextvars.Token[Principal | None]) -> None:
    _current.reset(token)


def permission_denied(message: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.PERMISSION_DENIED, message, common_pb2.ERROR_REASON_PERMISSION_DENIED
    )


def roles_for(method: str) -> frozenset[str] | None:
    """Roles that may call ``method``; None for an open method."""
    if method.startswith(OPEN_PREFIXES):
        return None
    best = ""
    allowed: frozenset[str] = frozenset()
    for prefix, roles in _POLICY:
        if method.startswith(prefix) and len(prefix) > len(best):
            best, allowed = prefix, roles
    return allowed


def check_resource(kind: str, name: str, principal: Principal | None = None) -> None:
    """PERMISSION_DENIED unless the caller may touch the ``kind`` resource ``name``."""
    owners = OWNED_RESOURCES.get((kind, name))
    if owners is None:
        return
    principal = principal if principal is not None else current_principal()
    if principal is None or principal.is_admin or principal.name in owners:
        return
    raise permission_denied(
        f"{kind} {name!r} belongs to {', '.join(sorted(owners))}; "
        f"principal {principal.name!r} may not use it"
    )


def require_admin(what: str) -> None:
    principal = current_principal()
    if principal is not None and not principal.is_admin:
        raise permission_denied(
            f"{what} is an admin-only call; principal {principal.name!r} is not admin"
        )


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Authenticator:
    """Maps a call's bearer token to its principal."""

    def __init__(self, by_digest: Mapping[bytes, Principal], allow_anonymous: bool = False) -> None:
        self._by_digest = dict(by_digest)
        self.allow_anonymous = allow_anonymous

    @classmethod
    def from_settings(
        cls, secrets_file: str = "", tokens: Iterable[str] = (), allow_anonymous: bool = False
    ) -> Authenticator:
        """From the mesh's secrets file and/or plain admin tokens; ValueError when nothing is configured."""
        by_digest: dict[bytes, Principal] = {}
        if secrets_file:
            try:
                for p in principals(secrets_file):
                    unknown = p.roles - ROLES
                    if unknown:
                        raise ValueError(
                            f"secrets file {secrets_file}: principal {p.name!r} has unknown "
                            f"roles {sorted(unknown)}; known: {sorted(ROLES)}"
                        )
                    by_digest[_digest(p.token)] = Principal(p.name, p.roles)
            except CredentialsError as exc:
                raise ValueError(str(exc)) from None
        for i, token in enumerate(tokens):
            by_digest[_digest(token)] = Principal(f"token-{i}", frozenset({ADMIN}))
        if not by_digest and not allow_anonymous:
            raise ValueError(
                "no credentials configured: set secrets_file (SAGE_SECRETS_FILE; `sage mesh up` "
                "writes run/secrets/mesh.json) or auth_tokens, or allow_anonymous=true "
                "(SAGE_ALLOW_ANONYMOUS=true) for a development instance nobody else can reach"
            )
        return cls(by_digest, allow_anonymous)

    @property
    def enabled(self) -> bool:
        return bool(self._by_digest) or not self.allow_anonymous

    def principal(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Principal:
        """The caller's principal; UNAUTHENTICATED when the token is missing or unknown."""
        for key, value in metadata or ():
            if key == "authorization":
                text = value if isinstance(value, str) else value.decode("latin-1")
                scheme, _, token = text.partition(" ")
                if scheme.lower() == "bearer" and token:
                    found = self._by_digest.get(_digest(token.strip()))
                    if found is not None:
                        return found
                    if self.allow_anonymous:
                        return ANONYMOUS_ADMIN
                    raise unauthenticated(
                        "the bearer token in 'authorization' is not one this mesh issued"
                    )
        if self.allow_anonymous:
            return ANONYMOUS_ADMIN
        raise unauthenticated(
            "no credential: send 'authorization: Bearer <token>' (the SDK and CLI read "
            "SAGE_TOKEN, or SAGE_SECRETS_FILE + SAGE_PRINCIPAL; `sage mesh up` writes "
            "run/secrets/mesh.json)"
        )
