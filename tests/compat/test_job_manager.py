"""SAGE's ``python -m sage.kernel.jobmanager.job_manager --host --port``: the kernel alone in the
foreground (with etcd), reached by a SAGE-style RemoteEnvironment program, stopped (with what it
started) by SIGTERM."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sage_deploy.processes import pid_alive

ROOT = Path(__file__).resolve().parents[2]
READY = "JobManager started successfully, listening on "


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    out: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line)
        out.put(None)  # it exited

    threading.Thread(target=pump, daemon=True).start()
    return out


def _wait_ready(out: queue.Queue[str | None], timeout: float = 120.0) -> str:
    seen: list[str] = []
    while True:
        try:
            line = out.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line is None:
            raise AssertionError(f"the job manager never said it was ready: {seen}")
        seen.append(line)
        if line.startswith(READY):
            return line[len(READY) :].strip()


def test_python_m_job_manager_serves_a_remote_program_and_stops_on_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sage._adapters.job_manager as ours
    import sage.kernel.jobmanager.job_manager as sage_module
    from sage.kernel.api.remote_environment import RemoteEnvironment

    assert sage_module is ours  # the SAGE module is ours as a whole
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "sage.kernel.jobmanager.job_manager", "--host", "127.0.0.1"]
    cmd += ["--port", "0", "--run-dir", str(run_dir), "--ephemeral-ports"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        address = _wait_ready(_lines(proc))
        monkeypatch.setenv("SAGE_SECRETS_FILE", str(run_dir / "secrets" / "mesh.json"))
        host, port = address.rsplit(":", 1)
        env = RemoteEnvironment("sage-remote-batch", {}, host=host, port=int(port))
        env.from_batch([1, 2, 3]).map(lambda x: x * 10).sink(print)
        env.submit(autostop=True)
        assert sorted(capsys.readouterr().out.split()) == ["10", "20", "30"]

        manager = ours.JobManager(enable_daemon=False, daemon_host=host, daemon_port=int(port))
        assert manager.health_check()["status"] == "healthy"
        assert [job["state"] for job in manager.list_jobs()] == ["succeeded"]
        missing = manager.get_job_status("no-such-job")
        assert missing["success"] is False and missing["status"] == "not_found"
        manager.shutdown()  # it started nothing: the daemon keeps running
        assert proc.poll() is None
        kernel_pid = int((run_dir / "pids" / "kernel-0.pid").read_text())
    finally:
        proc.terminate()
        code = proc.wait(timeout=60)
    assert code == 0
    assert not pid_alive(kernel_pid) and not (run_dir / "pids" / "kernel-0.pid").exists()
    assert not list((run_dir / "pids").glob("etcd.pid"))  # the etcd it started is stopped too


def test_a_sigterm_while_starting_leaves_nothing_running(tmp_path: Path) -> None:
    """SAGE's hello_remote_batch.py terminates the daemon after a fixed wait, which on a loaded
    machine can fall inside the start: the etcd it began is stopped too."""
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "sage.kernel.jobmanager.job_manager", "--port", "0"]
    cmd += ["--run-dir", str(run_dir), "--ephemeral-ports"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = _lines(proc)
    seen: list[str] = []
    while not any("etcd" in line and "started" in line for line in seen):
        line = out.get(timeout=120)
        assert line is not None, f"it exited before starting etcd: {seen}"
        seen.append(line)
    etcd_pid = int((run_dir / "pids" / "etcd.pid").read_text())
    proc.terminate()  # the kernel is still starting (or just up)
    assert proc.wait(timeout=60) == 0
    assert not pid_alive(etcd_pid)
    assert not any(pid_alive(int(p.read_text())) for p in (run_dir / "pids").glob("*.pid"))


def test_job_manager_refuses_a_bad_port_with_a_usage_message() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "sage.kernel.jobmanager.job_manager", "--port", "abc"],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    assert bad.returncode == 2 and "--port" in bad.stderr
