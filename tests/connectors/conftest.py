"""Real Redis (with the mesh's ACL on), a throwaway PostgreSQL cluster, and small helpers."""

from __future__ import annotations

import glob
import os
import pwd
import secrets as pysecrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sage_deploy import infra, secrets
from sage_deploy.processes import free_port

ROOT = Path(__file__).resolve().parent.parent.parent


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Polls ``predicate``; a limit on waiting, never an assertion on speed."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


class Collect:
    """A sink function collecting records in this process (tests run the job in threads)."""

    def __init__(self) -> None:
        self.items: list = []
        self.lock = threading.Lock()

    def __call__(self, record: object) -> None:
        with self.lock:
            self.items.append(record)

    def __len__(self) -> int:
        with self.lock:
            return len(self.items)


@dataclass
class SecuredRedis:
    port: int
    url: str  # the app user's URL, as the KV service gets it
    secrets: dict

    def client(self):  # noqa: ANN201
        import redis

        return redis.Redis.from_url(self.url)


@pytest.fixture(scope="session")
def secured_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredRedis]:
    """Redis with the mesh's ACL (only its users get in), as `sage mesh up` starts it."""
    data = secrets.load(Path(os.environ["SAGE_SECRETS_FILE"]))
    run_dir = tmp_path_factory.mktemp("redis-acl")
    port = free_port()
    proc = infra.redis_process(run_dir, port, secrets=data).start()
    infra.wait_port(proc, port)
    yield SecuredRedis(port, infra.redis_url(port, data), data)
    proc.stop()


@dataclass
class Postgres:
    port: int
    user: str
    password: str
    database: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed: apt-get install -y postgresql")
    return Path(found[-1]).parent


def _cluster_owner() -> dict:
    """initdb and postgres refuse root: as root, run them as ``postgres`` (Debian's package
    user, ``nobody`` without it); Popen's user/group arguments."""
    if os.geteuid() != 0:
        return {}
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        owner = pwd.getpwnam("nobody")
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway cluster on an ephemeral loopback port (password auth), removed after."""
    pytest.importorskip("psycopg")
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="sage-pg-"))
    os.chmod(root, 0o755)
    data = root / "data"
    pwfile = root / "pw"
    password = pysecrets.token_urlsafe(16)
    pwfile.write_text(password + "\n")
    owner_kwargs = _cluster_owner()
    if owner_kwargs:
        os.chown(root, owner_kwargs["user"], owner_kwargs["group"])
        os.chown(pwfile, owner_kwargs["user"], owner_kwargs["group"])
    os.chmod(pwfile, 0o600)
    port = free_port()
    run = dict(check=True, capture_output=True, timeout=120, **owner_kwargs)
    subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "sage",
            "--pwfile",
            str(pwfile),
            "--auth",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        **run,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w"]
        + ["start"],
        **run,
    )
    try:
        server = Postgres(port, "sage", password, "postgres")
        wait_for(lambda: _accepts(server), 30, "PostgreSQL to accept connections")
        yield server
    finally:
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
            timeout=60,
            **owner_kwargs,
        )
        shutil.rmtree(root, ignore_errors=True)


def _accepts(server: Postgres) -> bool:
    try:
        server.query("SELECT 1")
    except Exception:  # noqa: BLE001
        return False
    return True


def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()
