"""SAGE's ``sage.kernel.jobmanager.job_manager``: the kernel job manager run alone, in the
foreground.

``python -m sage.kernel.jobmanager.job_manager --host 127.0.0.1 --port 19001`` (what SAGE's
``hello_remote_batch.py`` starts) is ``sage jobmanager start`` that stays in the foreground and
stops what it started on SIGTERM / Ctrl-C. ``JobManager(daemon_host=, daemon_port=)`` with
``run_forever()``, ``health_check()``, ``list_jobs()``, ``get_job_status(uuid)``,
``pause_job`` / ``continue_job`` / ``delete_job`` and ``shutdown()`` is SAGE's class over the
same kernel (``sage_deploy.standalone`` starts it, ``sage_client.remote.JobClient`` asks it).
The run directory (default ``./run``, as ``sage jobmanager start``) holds its pids, logs and
the mesh's secrets, where a ``RemoteEnvironment`` of a program in the same folder finds them.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_PORT = 19001  # SAGE's JobManager port


def _live_pid(pid_file: Path) -> int | None:
    from sage_deploy.processes import pid_alive

    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and pid_alive(pid) else None


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class JobManager:
    """The kernel job manager, started (``enable_daemon=True``) or reached at host:port."""

    def __init__(
        self,
        enable_daemon: bool = True,
        daemon_host: str = "127.0.0.1",
        daemon_port: int = DEFAULT_PORT,
        *,
        run_dir: str = "run",
        timeout: float = 90.0,
        ephemeral: bool = False,
    ) -> None:
        """``ephemeral``: free ports for etcd (a first start in a run directory)."""
        self.host, self.port, self.run_dir = daemon_host, int(daemon_port), run_dir
        self.address = f"{daemon_host}:{daemon_port}"
        self._alone: Any = None
        self._started = False
        self._client: Any = None
        self.ephemeral = ephemeral
        if enable_daemon:
            self.start(timeout)

    def start(self, timeout: float = 90.0) -> dict[str, Any]:
        """Start the kernel (and etcd) alone unless it runs; its ready info."""
        from sage_deploy.standalone import Standalone

        self._alone = Standalone(
            "kernel", self.run_dir, ephemeral=self.ephemeral, settings={"host": self.host}
        )
        etcd_pid_file = Path(self.run_dir) / "pids" / "etcd.pid"
        etcd_before = _live_pid(etcd_pid_file)
        try:
            info, self._started = self._alone.start(self.port, timeout)
        except KeyboardInterrupt:  # SIGTERM / Ctrl-C while starting: leave nothing running
            self._alone.stop(1.0)
            pid = _live_pid(etcd_pid_file)
            if etcd_before is None and pid is not None:  # the etcd this start began
                from sage_deploy.processes import stop_pid

                stop_pid(pid, 1.0)
                etcd_pid_file.unlink(missing_ok=True)
            raise
        self.address = str(info.get("address") or self.address)
        return dict(info)

    @property
    def client(self) -> Any:
        if self._client is None:
            from sage_client.remote import JobClient

            self._client = JobClient(address=self.address)
        return self._client

    # -- SAGE's JobManager verbs ------------------------------------------------------------
    def health_check(self) -> dict[str, Any]:
        try:
            jobs = len(list(self.client.list()))
        except Exception as exc:  # noqa: BLE001 - reported, not raised: SAGE's contract
            return {"status": "error", "message": str(exc)}
        return {"status": "healthy", "timestamp": datetime.now().isoformat(), "jobs_count": jobs}

    def list_jobs(self) -> list[dict[str, Any]]:
        return [asdict(info) for info in self.client.list()]

    def get_job_status(self, env_uuid: str) -> dict[str, Any]:
        try:
            info = self.client.get(env_uuid)
        except Exception as exc:  # noqa: BLE001 - SAGE answers not_found, not an exception
            return {"success": False, "uuid": env_uuid, "status": "not_found", "message": str(exc)}
        return {"success": True, "uuid": env_uuid, "status": info.state, **asdict(info)}

    def pause_job(self, env_uuid: str) -> dict[str, Any]:
        return self._verb("pause", env_uuid)

    def continue_job(self, env_uuid: str) -> dict[str, Any]:
        return self._verb("resume", env_uuid)

    resume_job = continue_job

    def delete_job(self, env_uuid: str, force: bool = False) -> dict[str, Any]:
        return self._verb("delete", env_uuid, force=force)

    def _verb(self, verb: str, env_uuid: str, **kwargs: Any) -> dict[str, Any]:
        try:
            info = getattr(self.client, verb)(env_uuid, **kwargs)
        except Exception as exc:  # noqa: BLE001 - SAGE's verbs answer a status dict
            return {"uuid": env_uuid, "status": "failed", "message": str(exc)}
        return {"uuid": env_uuid, "status": info.state, "message": f"{verb}: {info.state}"}

    def run_forever(self) -> bool:
        """Serve until SIGTERM / SIGINT, then stop what this process started."""

        signal.signal(signal.SIGTERM, _interrupt)
        print(f"JobManager started successfully, listening on {self.address}", flush=True)
        print("Press Ctrl+C to stop...", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()
        return True

    def shutdown(self, grace: float = 3.0) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._alone is not None and self._started:
            self._alone.stop(grace)
        self._started = False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sage.kernel.jobmanager.job_manager",
        description="SAGE's JobManager daemon: the SAGE Mesh kernel alone, in the foreground",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--run-dir", default="run", help="pids, logs, secrets (default ./run)")
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument(
        "--ephemeral-ports", action="store_true", help="free ports for etcd (SAGE Mesh's flag)"
    )
    args = parser.parse_args(argv)
    from sage_deploy.processes import StartError

    signal.signal(signal.SIGTERM, _interrupt)  # from the start on: a stop while starting
    try:
        manager = JobManager(
            True,
            args.host,
            args.port,
            run_dir=args.run_dir,
            timeout=args.timeout,
            ephemeral=args.ephemeral_ports,
        )
    except (StartError, OSError, ValueError) as exc:
        print(f"error: the job manager did not start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped while starting; what it started is stopped", file=sys.stderr)
        return 0
    manager.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
