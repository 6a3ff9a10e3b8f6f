"""The credentials a benchmark's mesh runs with: auth on, as deployed.

``ensure_secrets()`` gives this process (and every service it starts, which inherits the
environment) one set of mesh secrets, unless SAGE_SECRETS_FILE already names one; the SDK then
presents the admin token by itself. ``NO_AUTH`` is the setting of a service measured with auth
off (``<key>_no_auth`` figures): it verifies nothing.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from sage_client.credentials import default_metadata
from sage_deploy.secrets import ensure_mesh_secrets

NO_AUTH = {"SAGE_SECRETS_FILE": "", "SAGE_ALLOW_ANONYMOUS": "true"}
# Auth off inside a launcher mesh (whose etcd and Redis still want the secrets file's passwords):
# services serve anonymous callers without verifying anything, and present no token themselves.
NO_AUTH_IN_MESH = {"SAGE_ALLOW_ANONYMOUS": "true", "SAGE_PRINCIPAL": "anonymous"}


def ensure_secrets() -> str:
    if not os.environ.get("SAGE_SECRETS_FILE"):
        folder = tempfile.mkdtemp(prefix="sage-bench-secrets-")
        atexit.register(shutil.rmtree, folder, True)
        os.environ["SAGE_SECRETS_FILE"] = str(ensure_mesh_secrets(folder))
    return os.environ["SAGE_SECRETS_FILE"]


def metadata() -> tuple[tuple[str, str], ...]:
    """The admin credential as call metadata, for raw stubs."""
    ensure_secrets()
    return default_metadata()
