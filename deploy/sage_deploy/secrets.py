"""The mesh's secrets, generated once at first start and kept in the run directory.

    python -m sage_deploy.secrets init RUN_DIR [--owner UID] [--redis-conf PATH --redis-owner UID]
    python -m sage_deploy.secrets redis-url FILE HOST:PORT    # the app user's URL, password included
    python -m sage_deploy.secrets etcd-auth FILE HOST:PORT    # turn etcd's auth on (idempotent)

(the steps of deploy/mesh.yml's ``secrets-init`` and ``etcd-auth`` services and of its
services' command lines; ``sage mesh up`` does the same in process).

``ensure_mesh_secrets(run_dir)`` writes ``<run_dir>/secrets/mesh.json`` (mode 0600, folder
0700) when it does not exist and returns its path; a later start reuses it, so tokens that
were handed out keep working. The file's shape is documented in ``sage_client.credentials``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

# principal -> roles. Services run as their own principal where they own resources
# (gateway, memory), else as ``service``.
PRINCIPALS: dict[str, list[str]] = {
    "admin": ["admin"],
    "service": ["service"],
    "gateway": ["service"],
    "memory": ["service"],
    "jobs": ["jobs", "service"],
}
# Redis ACL users (see infra.redis_acl): ``sage`` for the services, ``tasks`` for the task queue
# (its keys only: sage_client.task_protocol).
REDIS_USERS = ("sage", "tasks")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def generate() -> dict[str, Any]:
    return {
        "version": 1,
        "principals": {
            name: {"token": new_token(), "roles": roles} for name, roles in PRINCIPALS.items()
        },
        **infra_secrets(),
    }


def infra_secrets() -> dict[str, Any]:
    """etcd: the mesh's user (read-write on ``/sage/`` only), the reader jobs discover services
    with (read-only on the service registry) and root's password, for the launcher's setup;
    redis: the default (admin) user's password and the app users' ones."""
    return {
        "etcd": {
            "user": "sage",
            "password": new_token(),
            "root_password": new_token(),
            "reader": {"user": "sage-reader", "password": new_token()},
        },
        "redis": {"password": new_token(), "users": {name: new_token() for name in REDIS_USERS}},
    }


def write_secrets(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` readable by its owner only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def ensure_mesh_secrets(run_dir: Path | str) -> Path:
    path = Path(run_dir) / "secrets" / "mesh.json"
    if not path.exists():
        write_secrets(path, generate())
    else:
        os.chmod(path, 0o600)
        data = json.loads(path.read_text())
        missing = {n: r for n, r in PRINCIPALS.items() if n not in data.get("principals", {})}
        sections = {k: v for k, v in infra_secrets().items() if k not in data}
        users = data.get("redis", {}).setdefault("users", {}) if "redis" in data else {}
        new_users = [u for u in REDIS_USERS if "redis" in data and u not in users]
        users.update({u: new_token() for u in new_users})
        if missing or sections or new_users:  # from before a principal, section or user was added
            data.setdefault("principals", {}).update(
                {n: {"token": new_token(), "roles": r} for n, r in missing.items()}
            )
            data.update(sections)
            write_secrets(path, data)
    return path


def load(path: Path | str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def main(argv: list[str] | None = None) -> int:
    from sage_deploy import infra

    parser = argparse.ArgumentParser(prog="python -m sage_deploy.secrets")
    sub = parser.add_subparsers(dest="action", required=True)
    init = sub.add_parser("init", help="write RUN_DIR/secrets/mesh.json unless it exists")
    init.add_argument("run_dir", type=Path)
    init.add_argument("--owner", type=int, help="uid that owns the secrets (the services' user)")
    init.add_argument(
        "--redis-conf", type=Path, help="also write Redis's ACL config here (mode 0600)"
    )
    init.add_argument(
        "--redis-owner", type=int, help="uid that owns the Redis config (Redis's user)"
    )
    for name in ("redis-url", "etcd-auth"):
        p = sub.add_parser(name)
        p.add_argument("file", type=Path)
        p.add_argument("address", help="HOST:PORT")
    args = parser.parse_args(argv)
    if args.action == "init":
        path = ensure_mesh_secrets(args.run_dir)
        if args.owner is not None:
            for target in (path.parent, path):
                os.chown(target, args.owner, args.owner)
        if args.redis_conf is not None:
            args.redis_conf.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(args.redis_conf.parent, 0o700)
            fd = os.open(args.redis_conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("\n".join(infra.redis_acl(load(path))) + "\n")
            if args.redis_owner is not None:
                for target in (args.redis_conf.parent, args.redis_conf):
                    os.chown(target, args.redis_owner, args.redis_owner)
        print(f"mesh secrets: {path}")
        return 0
    host, _, port = args.address.rpartition(":")
    data = load(args.file)
    if args.action == "redis-url":
        print(infra.redis_url(int(port), data, host=host))
        return 0
    enabled = infra.etcd_enable_auth(int(port), data, host=host)
    print(f"etcd auth {'enabled' if enabled else 'was already on'} at {args.address}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
