"""A job's worker process as the manager sees it: how one starts (argv, as the worker user),
a handle to wait on and signal it, and how to tell a live worker of a job after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from sage_kernel import identity
from sage_kernel.job_folder import JobFolder


class WorkerProcess:
    """A worker process: a child we spawned, or one re-attached by pid after a manager restart."""

    def __init__(self, pid: int, proc: subprocess.Popen[bytes] | None) -> None:
        self.pid = pid
        self.proc = proc

    async def wait(self, poll: float) -> int | None:
        if self.proc is not None:
            while self.proc.poll() is None:
                await asyncio.sleep(poll)
            return self.proc.returncode
        while alive(self.pid):
            await asyncio.sleep(poll)
        return None  # not our child: the exit code is lost, outcome.json tells what happened

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


def worker_argv(worker_identity: identity.WorkerIdentity | None, *args: str) -> list[str]:
    """How every worker starts: as the worker user when the manager is root (``cwd``, the
    jobs folder, is entered before the switch)."""
    argv = [sys.executable, "-u", "-m", "sage_kernel.worker", *args]
    return worker_identity.argv(argv) if worker_identity is not None else argv


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def is_worker_of(pid: int, folder: JobFolder) -> bool:
    """Guards against pid reuse: a live worker process that wrote this pid into the job folder."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        recorded = int(folder.pid.read_text())
    except (OSError, ValueError):
        return False
    return b"sage_kernel.worker" in cmdline and recorded == pid and alive(pid)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "the worker process ended without an outcome (killed while the manager was down?)"
    if code < 0:
        return f"the worker process was killed by signal {signal.Signals(-code).name}"
    return f"the worker process exited with code {code} without reporting an outcome"
