"""A Ray cluster of several nodes on this machine, started with ``ray start`` as a real
cluster of several machines is (docs/jobs.md): a head with no CPUs (it schedules, it runs no
actors) and ``workers`` worker nodes of ``cpus_per_worker`` CPUs each, every node its own
raylet on loopback, all run as the job workers' user with Ray's token authentication on.

Each worker node carries a custom resource named after it (``sage_node_0``, ``sage_node_1``,
...; 1 unit, which a placement asks a fraction of), the label a ``PlacementDecision`` can name
in its ``resource_requirements``; ``node_ids`` maps those names to Ray node ids, which a
decision's ``target_node`` takes. ``kill_worker(i)`` is a node's crash (SIGKILL to every
process it started). Every node runs in its own process group and the cluster's processes are
found by its own temp folder, so ``stop`` ends exactly this cluster's processes (never a
global ``ray stop``: other Ray heads may be running on this host). Used by the tests and by
``bench/jobs.py``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from sage_kernel import identity
from sage_kernel.ray_head import LocalRayHead, cluster_env

# A node is declared dead after period x threshold without a health check (Ray's defaults:
# 3 s x 5); short here so a crashed node's actors are rescheduled quickly.
HEALTH_ENV = {
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
    "RAY_USAGE_STATS_ENABLED": "0",
}

OBJECT_STORE_BYTES = 256 * 1024 * 1024  # per node (Ray's default: 30% of memory, in /dev/shm)

_NODES = """
import json, sys, ray
ray.init(address=sys.argv[1], include_dashboard=False, log_to_driver=False,
         configure_logging=False)
print(json.dumps([{"id": n["NodeID"], "resources": n.get("Resources", {})}
                  for n in ray.nodes() if n.get("Alive")]), flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_cli() -> list[str]:
    return [sys.executable, "-m", "ray.scripts.scripts"]


def resource_name(index: int) -> str:
    return f"sage_node_{index}"


@dataclass
class LocalRayCluster(LocalRayHead):
    """``with LocalRayCluster(workers=2) as cluster:``: ``cluster.address`` (the GCS address),
    ``cluster.auth_env`` and ``export_auth()`` as ``LocalRayHead``'s; ``cluster.node_ids``:
    ``{"sage_node_0": <Ray node id>, ...}``; ``cluster.client_address``: ``ray://`` of the head's
    Ray Client server."""

    workers: int = 2
    cpus_per_worker: int = 1
    node_ids: dict[str, str] = field(default_factory=dict)
    client_address: str = ""  # ray://127.0.0.1:PORT, the head's Ray Client server
    _nodes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _started: float = 0.0

    def _env(self) -> dict[str, str]:
        assert self._temp is not None
        return {
            **cluster_env(),
            "HOME": str(self._temp / "home"),
            **self.auth_env,
            **HEALTH_ENV,
        }

    def _spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        assert self._temp is not None
        who = identity.resolve(self.worker_user, check=False)
        log = open(self._temp / f"node-{len(self._nodes)}.log", "wb")  # noqa: SIM115
        with log:
            proc = subprocess.Popen(
                [*_ray_cli(), "start", "--block", "--disable-usage-stats", *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._temp / "home",
                env=self._env(),
                start_new_session=True,  # its own process group: kill_worker hits it alone
                **(who.popen_kwargs() if who is not None else {}),
            )
        self._nodes.append(proc)
        return proc

    def _node_args(self) -> list[str]:
        assert self._temp is not None
        return [
            "--node-ip-address=127.0.0.1",
            f"--temp-dir={self._temp}",
            f"--dashboard-agent-listen-port={_free_port()}",
            f"--dashboard-agent-grpc-port={_free_port()}",
            f"--runtime-env-agent-port={_free_port()}",
            f"--metrics-export-port={_free_port()}",
            f"--object-store-memory={OBJECT_STORE_BYTES}",
        ]

    def start(self) -> LocalRayCluster:
        self._started = time.time()
        self._prepare()
        try:
            port, client_port = _free_port(), _free_port()
            self.address = f"127.0.0.1:{port}"
            self.client_address = f"ray://127.0.0.1:{client_port}"
            self._spawn(
                [
                    "--head",
                    f"--port={port}",
                    "--num-cpus=0",
                    "--include-dashboard=false",
                    f"--dashboard-port={_free_port()}",
                    f"--ray-client-server-port={client_port}",
                    *self._node_args(),
                ]
            )
            self._wait_started(0, timeout=90)
            for i in range(
                self.workers
            ):  # one by one: a 2-core host times out nodes started at once
                self._spawn(
                    [
                        f"--address={self.address}",
                        f"--num-cpus={self.cpus_per_worker}",
                        f"--resources={json.dumps({resource_name(i): 1})}",
                        *self._node_args(),
                    ]
                )
                self._wait_started(i + 1, timeout=90)
            self._wait_for_nodes(self.workers + 1, timeout=90)
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare(self) -> None:
        """The temp folder and token of ``LocalRayHead``, without its in-process head."""
        import secrets
        import tempfile

        who = identity.resolve(self.worker_user, check=False)
        self._temp = temp = Path(tempfile.mkdtemp(prefix="rayc-", dir="/tmp"))
        home = temp / "home"
        token = home / ".ray" / "auth_token"
        token.parent.mkdir(parents=True)
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        if who is not None:
            for path in (temp, home, token.parent, token):
                os.chown(path, who.uid, who.gid)
        self.auth_env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}

    def nodes(self) -> list[dict[str, object]]:
        """The live nodes, as a driver connected to the cluster sees them (a short process)."""
        assert self._temp is not None
        who = identity.resolve(self.worker_user, check=False)
        done = subprocess.run(
            [sys.executable, "-c", _NODES, self.address],
            capture_output=True,
            cwd=self._temp / "home",
            env=self._env(),
            timeout=60,
            check=False,
            **(who.popen_kwargs() if who is not None else {}),
        )
        if done.returncode != 0:
            raise RuntimeError(f"listing the Ray nodes failed: {done.stderr.decode()[-2000:]}")
        return json.loads(done.stdout.decode().strip().splitlines()[-1])

    def _wait_for_nodes(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            dead = [p.args for p in self._nodes if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a Ray node exited at start: {dead[0]!r}; {self._logs()}")
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired, ValueError):
                nodes = self.nodes()
                if len(nodes) >= count:
                    self.node_ids = {
                        resource_name(i): str(n["id"])
                        for n in nodes
                        for i in range(self.workers)
                        if resource_name(i) in n["resources"]  # type: ignore[operator]
                    }
                    if len(self.node_ids) == self.workers:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Ray cluster did not come up in {timeout} s; {self._logs()}"
                )
            time.sleep(0.5)

    def _wait_started(self, node: int, timeout: float) -> None:
        """Until ``ray start`` of node ``node`` says its runtime is up."""
        assert self._temp is not None
        log = self._temp / f"node-{node}.log"
        deadline = time.monotonic() + timeout
        while b"Ray runtime started" not in log.read_bytes():
            if self._nodes[node].poll() is not None:
                raise RuntimeError(f"Ray node {node} exited at start; {self._logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Ray node {node} did not start in {timeout} s; {self._logs()}")
            time.sleep(0.2)

    def _logs(self) -> str:
        if self._temp is None:
            return ""
        return " | ".join(p.read_text(errors="replace")[-800:] for p in self._temp.glob("*.log"))

    def kill_worker(self, index: int) -> None:
        """Crash worker node ``index``: SIGKILL to its raylet and every process under it."""
        proc = self._nodes[1 + index]
        for pid in self._descendants(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    @staticmethod
    def _parents() -> dict[int, int]:
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = (entry / "stat").read_text()
                    parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        return parents

    def _descendants(self, root: int) -> set[int]:
        parents = self._parents()
        found = {root}
        grew = True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in found} - found
            found |= more
            grew = bool(more)
        return found

    def _pids(self) -> set[int]:
        """Processes of this cluster: its temp folder in their command line (Ray passes every
        process its session folder, which lies in it)."""
        assert self._temp is not None
        mark = str(self._temp).encode()
        found: set[int] = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                with contextlib.suppress(OSError):
                    if mark in (entry / "cmdline").read_bytes():
                        found.add(int(entry.name))
        return found

    def stop(self) -> None:
        """SIGKILL to every process of this cluster, workers first: a test cluster keeps
        nothing worth a graceful shutdown, and a graceful one takes ~15 s a node."""
        for index in range(len(self._nodes) - 1, 0, -1):
            if self._nodes[index].poll() is None:
                self.kill_worker(index - 1)
        if self._nodes:
            head = self._nodes[0]
            for pid in self._descendants(head.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        if self._temp is not None:
            for pid in self._pids():  # any that left its node's process tree
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._nodes.clear()
        super().stop()

    def __enter__(self) -> LocalRayCluster:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
