"""Who job workers run as, and what they may touch.

A job is the submitter's code (unpickled in the worker). When the job manager runs as root,
every worker and standby worker runs as the unprivileged ``worker_user`` (default
``sage-job``, created as a system user when missing; ``nobody`` when it cannot be), with no
supplementary groups. It starts in the jobs folder (``cwd``, entered before the switch, so
the manager's data directory need not be reachable by that user) and can write only its
own job folder: ``<data_dir>/jobs`` is root's, mode 0711 (no listing), and each job folder
is ``root:<worker group>`` mode 1770 (sticky: the worker creates its files but cannot
replace the manager's ``graph.pb``, ``job.json``, ``worker.log`` or ``submitter.token``:
``sage_kernel.job_folder`` names them all).
The secrets file and the rest of the manager's files are never readable by it. When the
manager is not root, workers run as the manager's own user.

The worker user must be able to read the interpreter, its standard library and the
installed packages: ``check_reachable`` refuses to start a manager whose Python lives where
that user cannot go (a pyenv under a 0700 ``/root``), naming the directory to open up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sage_kernel.job_folder import JobFolder

log = logging.getLogger("sage.kernel")

DEFAULT_WORKER_USER = "sage-job"
FALLBACK_USER = "nobody"
JOB_FOLDER_MODE = 0o1770
JOBS_ROOT_MODE = 0o711


@dataclass(frozen=True)
class WorkerIdentity:
    user: str
    uid: int
    gid: int
    home: str = "/nonexistent"

    def popen_kwargs(self) -> dict[str, Any]:
        """For a process started from a short-lived helper (tests); the manager uses ``argv``."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def argv(self, argv: list[str]) -> list[str]:
        """``argv`` (a Python command line) run as this user: a tiny launcher drops every
        privilege (groups, gid, uid: real, effective and saved) and execs it. Not Popen's
        ``user=``: that forks the manager (threads, gRPC) without vfork, which can crash the
        child before its exec."""
        assert argv[0] == sys.executable
        return [sys.executable, "-I", "-S", "-c", _LAUNCH, str(self.uid), str(self.gid), *argv[1:]]


_LAUNCH = (
    "import os, sys; os.setgroups([]); os.setgid(int(sys.argv[2])); os.setuid(int(sys.argv[1])); "
    "assert os.getresuid() == (int(sys.argv[1]),) * 3 and os.getresgid() == (int(sys.argv[2]),) * 3; "
    "os.execv(sys.executable, [sys.executable, *sys.argv[3:]])"
)


def _create_system_user(name: str) -> bool:
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    try:
        done = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("could not create the job worker user %s: %s", name, exc)
        return False
    if done.returncode != 0 and done.returncode != 9:  # 9: the user exists already
        log.warning(
            "could not create the job worker user %s: %s",
            name,
            done.stderr.decode(errors="replace").strip(),
        )
        return False
    return True


def resolve(worker_user: str, check: bool = True) -> WorkerIdentity | None:
    """The identity workers switch to; None when they run as the manager's own user."""
    if os.geteuid() != 0 or not worker_user:
        if os.geteuid() == 0:
            log.warning("worker_user is empty: job workers run as root (submitters get root)")
        return None
    entry: pwd.struct_passwd | None = None
    with contextlib.suppress(KeyError):
        entry = pwd.getpwnam(worker_user)
    if entry is None:
        if worker_user != DEFAULT_WORKER_USER:
            raise ValueError(
                f"worker_user {worker_user!r} does not exist on this machine; "
                f"create it, or leave the default {DEFAULT_WORKER_USER!r}"
            )
        if _create_system_user(worker_user):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(worker_user)
        if entry is None:
            log.warning("job workers run as %s (could not create %s)", FALLBACK_USER, worker_user)
            entry = pwd.getpwnam(FALLBACK_USER)
    if entry.pw_uid == 0:
        raise ValueError(f"worker_user {entry.pw_name!r} is root; name an unprivileged user")
    identity = WorkerIdentity(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)
    if check:
        check_reachable(identity)
    return identity


def _allows(st: os.stat_result, who: WorkerIdentity, bits: int) -> bool:
    if st.st_uid == who.uid:
        shift = 6
    elif st.st_gid == who.gid:
        shift = 3
    else:
        shift = 0
    return (st.st_mode >> shift) & bits == bits


def blocked_at(path: Path, who: WorkerIdentity, bits: int) -> Path | None:
    """The first directory (or ``path`` itself) that ``who`` cannot pass; None if it can."""
    path = Path(os.path.realpath(path))
    for parent in reversed(path.parents):
        if not _allows(parent.stat(), who, 1):
            return parent
    return None if _allows(path.stat(), who, bits) else path


def _needed() -> list[tuple[Path, int]]:
    needed: list[tuple[Path, int]] = [(Path(sys.executable), 5)]
    return needed + [(Path(p), 5) for p in sys.path if os.path.isabs(p) and os.path.isdir(p)]


def let_through(who: WorkerIdentity) -> list[Path]:
    """Adds o+x (traverse, no listing) to the directories that keep ``who`` from this
    interpreter; returns them. A setup step (``scripts/setup.sh`` as root), never the manager."""
    opened: list[Path] = []
    for path, bits in _needed():
        while (where := blocked_at(path, who, bits)) is not None and where != Path(
            os.path.realpath(path)
        ):
            os.chmod(where, where.stat().st_mode | stat.S_IXOTH)
            opened.append(where)
    return opened


def check_reachable(who: WorkerIdentity) -> None:
    """ValueError unless ``who`` can run this interpreter with this ``sys.path``."""
    for path, bits in _needed():
        where = blocked_at(path, who, bits)
        if where is not None:
            raise ValueError(
                f"job workers run as {who.user!r} (worker_user), who cannot reach {path}: "
                f"{where} is mode {stat.filemode(where.stat().st_mode)}. Install Python and "
                f"the packages where every user can read them, or let that user through "
                f"(e.g. `chmod o+x {where}`: traverse only, no listing); worker_user='' runs "
                "workers as root, which gives every job submitter root"
            )


def prepare_jobs_root(root: Path, who: WorkerIdentity | None) -> None:
    if who is not None:
        os.chown(root, 0, 0)
        os.chmod(root, JOBS_ROOT_MODE)


def prepare_job_folder(folder: JobFolder, who: WorkerIdentity | None) -> None:
    """Before each worker start: the folder and its log writable for the worker user."""
    log_file = folder.log
    fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o640)
    try:
        if who is not None:
            os.fchown(fd, 0, who.gid)
            os.fchmod(fd, 0o660)
    finally:
        os.close(fd)
    if who is not None:
        os.chown(folder.path, 0, who.gid)
        os.chmod(folder.path, JOB_FOLDER_MODE)


def read_worker_file(path: Path, limit: int = 1 << 30) -> bytes:
    """A file the worker wrote, read by the manager: never through a link the worker planted
    (it could name the manager's secrets). OSError when it is missing or not a plain file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise OSError(f"{path} is not a plain file the worker wrote")
        if st.st_size > limit:
            raise OSError(f"{path} is larger than {limit} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def worker_env(token: str, who: WorkerIdentity | None = None) -> dict[str, str]:
    """The worker's environment: the manager's, without its credentials, plus the
    submitter's token (the job calls services with its submitter's rights); as ``who``, its
    own HOME and USER (not the manager's home, where tools find the manager's tokens)."""
    from sage_client.credentials import MEMBER_CREDENTIAL_ENV, TOKEN_ENV
    from sage_client.discovery import ETCD_CREDENTIALS_ENV

    env = {k: v for k, v in os.environ.items() if k not in (*MEMBER_CREDENTIAL_ENV, TOKEN_ENV)}
    if token:
        env[TOKEN_ENV] = token
    reader = discovery_reader()
    if reader:
        env[ETCD_CREDENTIALS_ENV] = reader
    if who is not None:
        env.update(HOME=who.home, USER=who.user, LOGNAME=who.user)
    return env


def discovery_reader() -> str:
    """``USER:PASSWORD`` of the mesh's read-only etcd user (read on the service registry alone)
    from the manager's secrets file, so a job's SDK finds services through an etcd with auth on;
    empty when the file has none."""
    from sage_client.credentials import load_secrets, secrets_path

    path = secrets_path()
    if path is None:
        return ""
    reader = (load_secrets(path).get("etcd") or {}).get("reader") or {}
    if not reader.get("user") or not reader.get("password"):
        return ""
    return f"{reader['user']}:{reader['password']}"


def main(argv: list[str]) -> int:
    """``python -m sage_kernel.identity [--let-through] [USER]``: as root, create the worker
    user if missing and (``--let-through``) open the directories it needs to run this Python."""
    args = [a for a in argv if a != "--let-through"]
    who = resolve(args[0] if args else DEFAULT_WORKER_USER, check=False)
    if who is None:
        print("not root: job workers run as this user")
        return 0
    if "--let-through" in argv:
        for where in let_through(who):
            print(f"{where}: o+x, so {who.user} can reach this Python")
    try:
        check_reachable(who)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"job workers run as {who.user} (uid {who.uid}) and can reach this Python")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
