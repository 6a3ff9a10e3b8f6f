"""The mesh's credentials, as a caller presents them.

A mesh started by ``sage mesh up`` (or compose's init step) writes its secrets once, to
``<run-dir>/secrets/mesh.json`` (mode 0600)::

    {"version": 1,
     "principals": {"admin":   {"token": "...", "roles": ["admin"]},
                    "service": {"token": "...", "roles": ["service"]},
                    "gateway": {"token": "...", "roles": ["service"]},
                    "memory":  {"token": "...", "roles": ["service"]},
                    "jobs":    {"token": "...", "roles": ["jobs"]}},
     "etcd":  {"user": "sage", "password": "...", "root_password": "..."},
     "redis": {"password": "...", "users": {"<name>": "<password>", ...}}}

Every channel the SDK opens presents a bearer token chosen here, so a program on the
mesh's machine needs no setting at all:

1. ``SAGE_TOKEN`` — a token given outright (an API user, a job worker acting for its
   submitter);
2. else the token of principal ``SAGE_PRINCIPAL`` (default ``admin``: the operator's own
   CLI and programs) in the file named by ``SAGE_SECRETS_FILE``;
3. else the secrets of the mesh under ``./run`` when that file exists and is readable.

Nothing found means no token: the call goes out anonymous and the service answers
UNAUTHENTICATED, naming these variables. ``SAGE_PRINCIPAL=anonymous`` presents no token on
purpose (a development mesh whose services set ``allow_anonymous``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECRETS_ENV = "SAGE_SECRETS_FILE"
TOKEN_ENV = "SAGE_TOKEN"
PRINCIPAL_ENV = "SAGE_PRINCIPAL"
# A mesh member's own credentials in its environment: never handed to code it runs for others
# (job workers, Ray nodes and actors), which get their submitter's SAGE_TOKEN instead.
MEMBER_CREDENTIAL_ENV = (SECRETS_ENV, PRINCIPAL_ENV, "SAGE_AUTH_TOKENS")
DEFAULT_PRINCIPAL = "admin"
ANONYMOUS = "anonymous"
DEFAULT_RUN_SECRETS = Path("run") / "secrets" / "mesh.json"


class CredentialsError(ValueError):
    """The secrets file is missing, unreadable or malformed; the message names it."""


@dataclass(frozen=True)
class PrincipalSecret:
    name: str
    token: str
    roles: frozenset[str]


def secrets_path(env: Mapping[str, str] | None = None) -> Path | None:
    """The secrets file this process uses, or None."""
    named = (os.environ if env is None else env).get(SECRETS_ENV, "")
    if named:
        return Path(named)
    return DEFAULT_RUN_SECRETS if DEFAULT_RUN_SECRETS.is_file() else None


def load_secrets(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed secrets file; CredentialsError naming the file when it cannot be used."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CredentialsError(
            f"secrets file {path} does not exist; `sage mesh up` writes it"
        ) from None
    except PermissionError:
        raise CredentialsError(
            f"secrets file {path} is not readable by this user (it is mode 0600)"
        ) from None
    except json.JSONDecodeError as exc:
        raise CredentialsError(f"secrets file {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("principals"), dict):
        raise CredentialsError(f"secrets file {path} has no 'principals' object")
    return data


def principals(path: str | os.PathLike[str]) -> list[PrincipalSecret]:
    out = []
    for name, entry in load_secrets(path)["principals"].items():
        token, roles = entry.get("token"), entry.get("roles", [])
        if not isinstance(token, str) or len(token) < 16 or not isinstance(roles, list):
            raise CredentialsError(
                f"secrets file {path}: principal {name!r} needs a 'token' of >= 16 "
                "characters and a list of 'roles'"
            )
        out.append(PrincipalSecret(name, token, frozenset(map(str, roles))))
    return out


def principal_token(name: str, path: str | os.PathLike[str] | None = None) -> str:
    """The token of principal ``name`` in the secrets file (default: this process's)."""
    path = path or secrets_path()
    if path is None:
        raise CredentialsError(
            f"no secrets file: set {SECRETS_ENV} (sage mesh up writes run/secrets/mesh.json)"
        )
    for p in principals(path):
        if p.name == name:
            return p.token
    raise CredentialsError(f"secrets file {path} has no principal {name!r}")


def default_token() -> str | None:
    """The token this process presents, by the rules in the module docstring; None if none."""
    token = os.environ.get(TOKEN_ENV, "")
    if token:
        return token
    if os.environ.get(PRINCIPAL_ENV) == ANONYMOUS:
        return None
    path = secrets_path()
    if path is None:
        return None
    try:
        return principal_token(os.environ.get(PRINCIPAL_ENV, "") or DEFAULT_PRINCIPAL, path)
    except CredentialsError:
        if os.environ.get(SECRETS_ENV):
            raise
        return None  # ./run/secrets of a mesh we may not read: go anonymous, the server says why


def bearer_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


def default_metadata() -> tuple[tuple[str, str], ...]:
    """gRPC call metadata carrying this process's credential (empty when it has none)."""
    return bearer_metadata(default_token())
