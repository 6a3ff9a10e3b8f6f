"""A one-machine Ray head for the job workers: run as the workers' user (a Ray driver must be
able to write its cluster's session folder, so a root-owned head would abort a ``sage-job``
worker), with Ray's token authentication on (one random token in a file only that user and
root can read). Used by the test session and by ``bench/jobs.py``; a cluster of several
machines is started with ``ray start`` as docs/jobs.md describes."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from sage_kernel import identity

_HEAD = """
import sys, ray
context = ray.init(num_cpus=int(sys.argv[2]), include_dashboard=False, log_to_driver=False,
                   _temp_dir=sys.argv[1])
print(context.address_info["gcs_address"], flush=True)
sys.stdin.readline()
ray.shutdown()
"""


def cluster_env() -> dict[str, str]:
    """This process's environment without the mesh's credentials: a Ray node's processes (and
    every actor they start) inherit it, and they run jobs' code."""
    from sage_client.credentials import MEMBER_CREDENTIAL_ENV, TOKEN_ENV

    withheld = (*MEMBER_CREDENTIAL_ENV, TOKEN_ENV)
    return {k: v for k, v in os.environ.items() if k not in withheld}


@dataclass
class LocalRayHead:
    """``with LocalRayHead() as head:`` starts the head; ``head.address`` is its GCS address and
    ``head.auth_env`` the variables a driver needs (``RAY_AUTH_MODE``, ``RAY_AUTH_TOKEN_PATH``);
    ``export_auth()`` puts them in this process's environment, so the job managers it starts
    (and their workers) inherit them."""

    num_cpus: int = 2
    worker_user: str = identity.DEFAULT_WORKER_USER
    address: str = ""
    auth_env: dict[str, str] = field(default_factory=dict)
    _temp: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> LocalRayHead:
        who = identity.resolve(self.worker_user, check=False)
        # short: Ray's unix socket paths must fit in 107 bytes
        self._temp = temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
        home = temp / "home"
        token = home / ".ray" / "auth_token"
        token.parent.mkdir(parents=True)
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        if who is not None:
            for path in (temp, home, token.parent, token):
                os.chown(path, who.uid, who.gid)
        self.auth_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _HEAD, str(temp), str(self.num_cpus)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=home,
            env={**cluster_env(), "HOME": str(home), **self.auth_env},
            **(who.popen_kwargs() if who is not None else {}),
        )
        assert self._proc.stdout is not None
        self.address = self._proc.stdout.readline().decode().strip()
        if not self.address:
            self.stop()
            raise RuntimeError("the Ray head did not start (its output is above)")
        return self

    def export_auth(self) -> None:
        os.environ.update(self.auth_env)

    def stop(self) -> None:
        for name in self.auth_env:
            if os.environ.get(name) == self.auth_env[name]:
                os.environ.pop(name)
        if self._proc is not None:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            try:
                self._proc.wait(60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    def __enter__(self) -> LocalRayHead:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
