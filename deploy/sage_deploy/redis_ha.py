"""Redis replicated with Sentinel on this host: a primary, replicas and sentinels as processes.

Every node has the mesh's ACL users (``infra.redis_acl``); ``CONFIG`` is renamed to a name derived
from the admin password (not removed: the sentinels rewrite a node's config on a failover, told the
name by ``sentinel rename-command``). Replicas and sentinels authenticate as ``default`` (the
admin password). Writes are fsynced before they are answered (``appendfsync always``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sage_deploy.infra import redis_acl, require
from sage_deploy.processes import ManagedProcess

SENTINEL_READ = (
    "+ping +auth +hello +client +info +role +sentinel|masters +sentinel|master "
    "+sentinel|replicas +sentinel|slaves +sentinel|sentinels +sentinel|get-master-addr-by-name"
)


def _config_command(secrets: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(b"sage-config:" + str(secrets["redis"]["password"]).encode())
    return "CONFIG-" + digest.hexdigest()[:16]


def _acl_lines(secrets: Mapping[str, Any]) -> list[str]:
    lines = [line for line in redis_acl(secrets) if not line.startswith("rename-command CONFIG")]
    return [*lines, f"rename-command CONFIG {_config_command(secrets)}"]


def _write_private(path: Path, lines: list[str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")


def node_process(
    run_dir: Path,
    port: int,
    name: str,
    secrets: Mapping[str, Any],
    replica_of: int | None = None,
) -> ManagedProcess:
    """A Redis node on 127.0.0.1:``port``: a primary, or a replica of the one at ``replica_of``."""
    redis = require("redis-server", "apt-get install -y redis-server")
    data = run_dir / f"{name}.data"
    data.mkdir(parents=True, exist_ok=True)
    password = secrets["redis"]["password"]
    lines = [
        *_acl_lines(secrets),
        f"port {port}",
        "bind 127.0.0.1",
        f"dir {data}",
        'save ""',
        "appendonly yes",
        "appendfsync always",
        "protected-mode no",
        "masteruser default",
        f"masterauth {password}",
        "replica-announce-ip 127.0.0.1",
        "repl-diskless-sync-delay 0",  # a replica (re)joining syncs at once, not after 5 s
    ]
    if replica_of is not None:
        lines.append(f"replicaof 127.0.0.1 {replica_of}")
    conf = run_dir / f"{name}.conf"
    _write_private(conf, lines)
    return ManagedProcess(
        name,
        [redis, str(conf)],
        run_dir / "logs" / f"{name}.log",
        pid_path=run_dir / "pids" / f"{name}.pid",
    )


def sentinel_process(
    run_dir: Path,
    port: int,
    name: str,
    primary_port: int,
    secrets: Mapping[str, Any],
    master_name: str = "sage",
    quorum: int = 2,
    down_after_ms: int = 1000,
) -> ManagedProcess:
    """A sentinel on 127.0.0.1:``port`` watching the primary at ``primary_port``; the mesh's users
    (``default`` and the app users) authenticate to it with their Redis passwords."""
    redis = require("redis-server", "apt-get install -y redis-server")
    password = secrets["redis"]["password"]
    # the app users may only find the primary; reconfiguring the sentinels takes the admin's
    users = [f"user default on >{password} ~* &* +@all"] + [
        f"user {user} on >{pw} {SENTINEL_READ}"
        for user, pw in sorted(secrets["redis"].get("users", {}).items())
    ]
    lines = [
        *users,
        f"port {port}",
        "bind 127.0.0.1",
        "protected-mode no",
        f"dir {run_dir}",
        "sentinel announce-ip 127.0.0.1",
        "sentinel resolve-hostnames no",
        f"sentinel monitor {master_name} 127.0.0.1 {primary_port} {quorum}",
        f"sentinel auth-user {master_name} default",
        f"sentinel auth-pass {master_name} {password}",
        f"sentinel down-after-milliseconds {master_name} {down_after_ms}",
        f"sentinel failover-timeout {master_name} {max(4 * down_after_ms, 3000)}",
        f"sentinel parallel-syncs {master_name} 1",
        f"sentinel rename-command {master_name} CONFIG {_config_command(secrets)}",
        "sentinel sentinel-user default",
        f"sentinel sentinel-pass {password}",
    ]
    conf = run_dir / f"{name}.conf"  # the sentinel rewrites it with what it learns
    _write_private(conf, lines)
    return ManagedProcess(
        name,
        [redis, str(conf), "--sentinel"],
        run_dir / "logs" / f"{name}.log",
        pid_path=run_dir / "pids" / f"{name}.pid",
    )
