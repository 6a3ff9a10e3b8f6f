"""python -m sage_tasks: a Celery worker of the mesh's task queue (``sage mesh up`` starts it
from the topology's ``tasks`` entry). Once it consumes, it registers in etcd like every mesh
member (``sage_tasks.announce``, when ``SAGE_ETCD_ENDPOINTS`` is set) and then writes
``SAGE_READY_FILE``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from sage_client.task_protocol import QUEUE
from sage_runtime.config import ConfigError, load_config
from sage_tasks import announce as announcement
from sage_tasks.app import create_app
from sage_tasks.config import TasksConfig


def _write_ready(path: str, info: dict[str, Any]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, target)


def _announce(config: TasksConfig, hostname: str) -> subprocess.Popen[str] | None:
    """The registration beside this worker (``sage_tasks.announce``) once it holds its lease;
    None when it could not register (the reason is in the log)."""
    metadata = {
        "protocol": "celery",
        "queue": QUEUE,
        "concurrency": config.concurrency,
        "pool": config.pool,
    }
    argv = [sys.executable, "-m", "sage_tasks.announce", "--etcd", ",".join(config.etcd_endpoints)]
    argv += ["--instance", config.instance_id, "--address", hostname]
    argv += ["--ttl", str(config.registration_ttl_s), "--metadata", json.dumps(metadata)]
    argv += ["--parent", str(os.getpid())]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() == announcement.REGISTERED:
        return proc
    proc.wait()
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sage-tasks", description=__doc__)
    parser.add_argument(
        "--config", help="YAML settings file (SAGE_* environment variables override it)"
    )
    parser.add_argument(
        "--ping",
        action="store_true",
        help="exit 0 when this instance's worker (SAGE_INSTANCE_ID on this host) answers",
    )
    args = parser.parse_args(argv)
    try:
        config = load_config(TasksConfig, args.config)
        app = create_app(config)
    except (ConfigError, ValueError) as exc:
        print(f"sage-tasks: {exc}", file=sys.stderr)
        return 2
    hostname = f"{config.instance_id}@{socket.gethostname()}"
    if args.ping:
        replies = app.control.ping(destination=[hostname], timeout=3.0)
        return 0 if replies else 1

    registered: list[subprocess.Popen[str]] = []

    @worker_ready.connect(weak=False)
    def announce(**_: Any) -> None:
        print(f"sage-tasks: worker {hostname} consuming {QUEUE}", flush=True)
        if config.etcd_endpoints:
            proc = _announce(config, hostname)
            if proc is None:
                print(f"sage-tasks: {hostname} could not register in etcd; stopping", flush=True)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            registered.append(proc)
        if config.ready_file:
            info = {"address": hostname, "instance_id": config.instance_id, "queue": QUEUE}
            _write_ready(config.ready_file, info)

    @worker_shutdown.connect(weak=False)
    def withdraw(**_: Any) -> None:  # the lease revoked: gone from etcd at once
        for proc in registered:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()

    app.worker_main(
        [
            "worker",
            f"--hostname={hostname}",
            f"--queues={QUEUE}",
            f"--loglevel={config.log_level}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
