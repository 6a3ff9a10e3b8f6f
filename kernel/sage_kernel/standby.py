"""Pre-started workers, one per (executor, ray address): a job's first record does not wait for
the worker's imports (a Ray standby connects and starts actors early). A standby gets its job id
and token on stdin; taking one starts its successor.

Workers are plain Popen children, not asyncio subprocesses: asyncio kills a child still
running when its transport closes (manager shutdown), and a worker must outlive it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from pathlib import Path

from sage_kernel import identity
from sage_kernel.worker_process import WorkerProcess, worker_argv

Kind = tuple[str, str]  # (executor, ray address)


class StandbyPool:
    def __init__(self, enabled: bool, root: Path) -> None:
        self.enabled = enabled
        self.root = root  # the jobs folder, every worker's cwd
        self.worker_identity: identity.WorkerIdentity | None = None
        self._procs: dict[Kind, subprocess.Popen[bytes]] = {}

    async def start(self, kind: Kind) -> None:
        if not self.enabled or kind in self._procs:
            return
        self._procs[kind] = subprocess.Popen(
            worker_argv(self.worker_identity, "--standby", *kind),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            # its job's token comes on stdin with the job
            env=identity.worker_env("", self.worker_identity),
            cwd=self.root,
        )

    async def stop(self) -> None:
        # a standby holds no job: no need to wait for its imports to finish before it goes
        for proc in self._procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self._procs.values():
            await asyncio.to_thread(proc.wait, 5)
        self._procs.clear()

    def hand_over(self, kind: Kind, job_id: str, token: str) -> WorkerProcess | None:
        """Gives the job to this kind's standby, if a live one is there (None: start one the
        slow way); a successor starts either way."""
        proc = self._procs.pop(kind, None)
        asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.start(kind)))
        if proc is not None and proc.poll() is None and proc.stdin is not None:
            try:
                proc.stdin.write(f"{job_id}\n{token}\n".encode())
                proc.stdin.close()
                return WorkerProcess(proc.pid, proc)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the standby died
        return None
