"""Run the `sage` command as a user would: a subprocess with the run directory's secrets, a
settings file of its own (naming a fresh run directory) instead of this machine's
~/.sage/config.yaml, and no mesh in the environment.

The commands run in the repository's root, as the other tests' services do: a job manager's
workers (user sage-job) must be able to read every folder on its sys.path, which holds the
folder it was started from, and pytest's temporary folders are mode 0700."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sage_deploy.launcher import Mesh
from tests.conftest import ROOT
from tests.kernel.conftest import kill_workers

Cli = Callable[..., tuple[int, str, str]]  # (exit code, stdout, stderr) of `sage ARGS...`


@dataclass
class Sage:
    cwd: Path
    run_dir: Path
    env: dict[str, str]

    def __call__(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "sage_cli.main", *args],
            cwd=self.cwd,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ok(self, *args: str, **env: str) -> str:
        result = self(*args, **env)
        assert result.returncode == 0, f"sage {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def etcd(self) -> str:
        port = json.loads((self.run_dir / "state.json").read_text())["ports"]["etcd"]
        return f"127.0.0.1:{port}"

    def ready(self, name: str) -> dict:
        return json.loads((self.run_dir / "ready" / f"{name}.json").read_text())

    def pid(self, name: str) -> int | None:
        path = self.run_dir / "pids" / f"{name}.pid"
        return int(path.read_text()) if path.exists() else None


@pytest.fixture
def sage(tmp_path: Path) -> Iterator[Sage]:
    run_dir = tmp_path / "run"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SAGE_") or k == "SAGE_TEST_SANITIZERS"
    }
    env.update(
        SAGE_SECRETS_FILE=str(run_dir / "secrets" / "mesh.json"),
        SAGE_CLI_CONFIG=str(tmp_path / "sage-config.yaml"),
    )
    (tmp_path / "sage-config.yaml").write_text(f"run_dir: {run_dir}\n")
    runner = Sage(ROOT, run_dir, env)
    yield runner
    # whatever a test left running in its run directory is stopped here
    Mesh(run_dir, log=lambda *a: None).down(grace=3)
    kill_workers(run_dir / "data" / "kernel-0")


@pytest.fixture
def cli(sage: Sage, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The same commands in this process (`sage_cli.main.main`), with the same environment as
    ``sage``: for the ones that start nothing, a subprocess costs seconds on a busy machine."""
    from sage_cli.main import main

    for name in [k for k in os.environ if k.startswith("SAGE_")]:
        monkeypatch.delenv(name)
    # main() may set it (settings.export_discovery): recorded here, so it is undone after
    monkeypatch.delenv("SAGE_ETCD_ENDPOINTS", raising=False)
    for name, value in sage.env.items():
        if name.startswith("SAGE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(sage.cwd)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
