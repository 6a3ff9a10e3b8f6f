"""One Ray head per test session, shared by every test that asks for ``ray_address`` (the jobs
and the compat tests): defined once here and imported by tests/conftest.py, so pytest keeps a
single instance (two definitions of a session fixture would start two heads whose auth tokens
overwrite each other in the environment)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sage_kernel import identity

_RAY_HEAD = """
import sys, ray
context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=sys.argv[1])
print(context.address_info["gcs_address"], flush=True)
sys.stdin.readline()
ray.shutdown()
"""


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """A Ray cluster run by the job workers' user (a Ray driver must be able to write its
    cluster's session folder): ``sage-job`` when the tests run as root, else this user."""
    who = identity.resolve(identity.DEFAULT_WORKER_USER, check=False)
    # short: Ray's unix socket paths must fit in 107 bytes
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    home = temp / "home"
    home.mkdir()
    if who is not None:
        for folder in (temp, home):
            os.chown(folder, who.uid, who.gid)
    head = subprocess.Popen(
        [sys.executable, "-c", _RAY_HEAD, str(temp)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=home,
        env={**os.environ, "HOME": str(home)},
        **(who.popen_kwargs() if who is not None else {}),
    )
    assert head.stdout is not None and head.stdin is not None
    address = head.stdout.readline().decode().strip()
    assert address, "the Ray head did not start"
    # Ray's token auth: the head wrote ~/.ray/auth_token in its HOME; the job managers this
    # session starts (and so their workers) read it from there
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(home / ".ray" / "auth_token"))
    yield address
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH"):
        os.environ.pop(name, None)
    head.stdin.close()
    head.wait(60)
    shutil.rmtree(temp, ignore_errors=True)
