"""Who submitted a task, and whether they may: the worker's side of the trust boundary.

A message is run only when its ``sage_auth`` header (``sage_client.task_protocol``) names a
token of the mesh's secrets file and its HMAC matches the task's id, name and arguments; the
principal must then hold a role the task allows (``admin`` always passes). Refusals raise
``Unauthenticated`` / ``PermissionDenied``: the task fails with that error, is not retried,
and runs nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sage_client.credentials import CredentialsError, principals
from sage_client.errors import PermissionDenied, Unauthenticated
from sage_client.task_protocol import key_id, signature_matches
from sage_runtime.auth import JOBS, SERVICE, Principal

# Roles that may submit each task; a task not named here takes DEFAULT_ROLES.
DEFAULT_ROLES = frozenset({SERVICE, JOBS})
TASK_ROLES: dict[str, frozenset[str]] = {
    # calls operator-installed code by name: code execution, like JobService
    "sage.run_function": frozenset({JOBS}),
}


def roles_for(task_name: str) -> frozenset[str]:
    return TASK_ROLES.get(task_name, DEFAULT_ROLES)


class Keyring:
    """The mesh's tokens by key id, from the secrets file (re-read when the file changes)."""

    def __init__(self, secrets_file: str) -> None:
        self._path = secrets_file
        self._stamp: tuple[float, int] | None = None
        self._by_kid: dict[str, tuple[Principal, str]] = {}
        self._lock = threading.Lock()

    def _reload(self) -> None:
        try:
            st = os.stat(self._path)
        except OSError:
            return
        stamp = (st.st_mtime, st.st_size)
        if stamp == self._stamp:
            return
        try:
            entries = principals(self._path)
        except CredentialsError:
            return
        self._by_kid = {key_id(p.token): (Principal(p.name, p.roles), p.token) for p in entries}
        self._stamp = stamp

    def find(self, kid: str) -> tuple[Principal, str] | None:
        with self._lock:
            self._reload()
            return self._by_kid.get(kid)


def authorize(
    keyring: Keyring,
    header: Any,
    task_id: str,
    task_name: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> Principal:
    """The submitter of this message, allowed to run it; Unauthenticated / PermissionDenied."""
    if not isinstance(header, Mapping) or "kid" not in header:
        raise Unauthenticated(
            f"task {task_name!r} ({task_id}) carries no submitter signature: submit it with "
            "sage_client.tasks.TaskClient (or `sage task submit`), which signs with a mesh token"
        )
    found = keyring.find(str(header["kid"]))
    if found is None:
        raise Unauthenticated(
            f"task {task_name!r} ({task_id}) is signed with a token this mesh did not issue"
        )
    principal, token = found
    if not signature_matches(token, header, task_id, task_name, args, kwargs):
        raise Unauthenticated(
            f"task {task_name!r} ({task_id}): the signature does not match its id, name and "
            "arguments (changed after it was signed)"
        )
    allowed = roles_for(task_name)
    if not principal.has_any(allowed):
        raise PermissionDenied(
            f"task {task_name!r} needs one of the roles {', '.join(sorted(allowed))} (or admin); "
            f"principal {principal.name!r} has {', '.join(sorted(principal.roles)) or 'none'}"
        )
    return principal
