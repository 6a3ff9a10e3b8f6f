"""One service of the topology on its own, with etcd (and Redis when the topology says it
depends on it), in a run directory it shares with `sage mesh up`.

``sage jobmanager start``, ``sage llm serve`` and ``sage gateway start`` are this: the instance
``<service>-0`` is started the way the launcher starts it (same ports file, pid, log and ready
files, secrets, principal), registers itself in etcd, and ``stop`` sends it SIGTERM, on which it
deregisters. etcd and Redis started here for it are stopped with the last such service; those
a `sage mesh up` started are left to `sage mesh down`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sage_deploy.launcher import Mesh
from sage_deploy.processes import StartError, pid_alive, stop_pid
from sage_deploy.secrets import ensure_mesh_secrets
from sage_deploy.secrets import load as load_secrets
from sage_deploy.status import probe
from sage_deploy.topology import Topology

INFRA = ("etcd", "redis")
# what standalone starts began: {"infra": ["etcd", ...], "companions": {"gateway": ["kv"]}}
_OWNED = "standalone.json"


@dataclass
class InstanceState:
    name: str  # e.g. kernel-0
    service: str
    pid: int | None  # None: not running
    address: str  # from the ready file; "" when not running
    health: str  # SERVING, NOT_SERVING, UNREACHABLE (...), or "stopped"
    registered: bool | None  # in etcd; None when etcd cannot be read
    log_path: Path

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "service": self.service,
            "running": self.pid is not None,
            "pid": self.pid,
            "address": self.address,
            "health": self.health,
            "registered": self.registered,
            "log": str(self.log_path),
        }


class Standalone:
    def __init__(
        self,
        service: str,
        run_dir: Path | str = "run",
        *,
        ephemeral: bool = False,
        settings: dict[str, str] | None = None,
        topology: Topology | None = None,
        secrets_file: Path | str | None = None,
        log: Callable[..., None] = print,
    ) -> None:
        self.mesh = Mesh(
            run_dir,
            topology,
            ephemeral=ephemeral,
            services=[service],
            settings={service: settings or {}},
            log=log,
            secrets_file=secrets_file,
        )
        self.service = self.mesh.topology.service(service)  # KeyError names the known ones
        self.name = f"{service}-0"
        self.run_dir = self.mesh.run_dir

    @property
    def log_path(self) -> Path:
        return self.run_dir / "logs" / f"{self.name}.log"

    @property
    def _ready_path(self) -> Path:
        return self.run_dir / "ready" / f"{self.name}.json"

    def _pid(self) -> int | None:
        try:
            pid = int(self.mesh._pid_file(self.name).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid > 0 and pid_alive(pid) else None

    # -- start ------------------------------------------------------------------------------
    def start(
        self, port: int | None = None, timeout: float = 60.0, companions: tuple[str, ...] = ()
    ) -> tuple[dict, bool]:
        """Start the instance unless it runs, after ``companions`` (services it calls, e.g. the
        gateway's kv, each alone on its topology port; stopped with it); (its ready file:
        address, pid..., started now)."""
        ports = self.mesh._ports()  # creates the run directory and its ports file
        for name in companions:
            Standalone(
                name,
                self.run_dir,
                ephemeral=self.mesh.ephemeral,
                log=self.mesh.log,
                secrets_file=None if self.mesh.own_secrets else self.mesh.secrets_path,
                topology=self.mesh.topology,
            ).start(timeout=timeout)
        self._record(companions=list(companions))
        mesh = self.mesh
        if self._pid() is not None and self._ready_path.exists():
            return json.loads(self._ready_path.read_text()), False
        if port is not None:
            ports[self.name] = port
            mesh._save_ports(ports)
        if mesh.own_secrets:
            ensure_mesh_secrets(self.run_dir)
        secrets_data = load_secrets(mesh.secrets_path)
        needed = ["etcd", *(["redis"] if "redis" in self.service.depends_on else [])]
        starting = [name for name in needed if not mesh._running(name)]
        etcd = mesh.ensure_etcd(ports, secrets_data)
        redis_url = mesh.ensure_redis(ports, secrets_data) if "redis" in needed else ""
        self._record(infra=starting)
        proc = mesh._spawn(self.service, 0, ports, etcd, redis_url)
        try:
            info = proc.wait_ready_file(timeout)
        except StartError:
            proc.stop(grace=2)
            self._ready_path.unlink(missing_ok=True)
            self._stop_unused_infra(2.0)
            raise
        return info, True

    def _state(self) -> dict:
        path = self.run_dir / _OWNED
        state = json.loads(path.read_text()) if path.exists() else {}
        state.setdefault("infra", [])
        state.setdefault("companions", {})
        return state

    def _record(self, infra: list[str] | None = None, companions: list[str] | None = None) -> None:
        state = self._state()
        state["infra"] = sorted(set(state["infra"]) | set(infra or ()))
        if companions:
            state["companions"][self.service.name] = companions
        (self.run_dir / _OWNED).write_text(json.dumps(state))

    # -- stop -------------------------------------------------------------------------------
    def stop(self, grace: float = 10.0) -> list[str]:
        """SIGTERM the instance (it deregisters), then the infrastructure only it needed."""
        stopped = []
        pid = self._pid()
        if pid is not None:
            stop_pid(pid, grace)
            stopped.append(self.name)
        self.mesh._pid_file(self.name).unlink(missing_ok=True)
        self._ready_path.unlink(missing_ok=True)
        state = self._state()
        for name in state["companions"].pop(self.service.name, []):
            if (self.run_dir / _OWNED).exists():
                (self.run_dir / _OWNED).write_text(json.dumps(state))
            stopped += Standalone(name, self.run_dir, topology=self.mesh.topology).stop(grace)
        return stopped + self._stop_unused_infra(grace)

    def _stop_unused_infra(self, grace: float) -> list[str]:
        """Stop the etcd/Redis a standalone start began once no other process of the run
        directory is alive (a mesh's own infrastructure is never touched)."""
        path = self.run_dir / _OWNED
        if not path.exists():
            return []
        pid_dir = self.run_dir / "pids"
        others = [
            p.stem for p in pid_dir.glob("*.pid") if p.stem not in INFRA and _pid_in(p) is not None
        ]
        if others:
            return []
        stopped = []
        for name in reversed(self._state()["infra"]):  # redis before etcd
            pid_file = pid_dir / f"{name}.pid"
            pid = _pid_in(pid_file)
            if pid is not None:
                stop_pid(pid, grace)
                stopped.append(name)
            pid_file.unlink(missing_ok=True)
        path.unlink()
        return stopped

    # -- status and logs ----------------------------------------------------------------------
    def etcd_address(self) -> str | None:
        """etcd of this run directory when it runs."""
        if not self.mesh.state_path.exists() or _pid_in(self.mesh._pid_file("etcd")) is None:
            return None
        return f"127.0.0.1:{json.loads(self.mesh.state_path.read_text())['ports']['etcd']}"

    def status(self) -> InstanceState:
        pid = self._pid()
        address = ""
        if pid is not None and self._ready_path.exists():
            address = json.loads(self._ready_path.read_text())["address"]
        registered: bool | None = None
        health = "stopped"
        if self.etcd_address() is not None:
            try:
                rows = self.mesh.status()
                registered = any(
                    r["service"] == self.service.name and r["address"] == address for r in rows
                )
            except Exception:  # noqa: BLE001 - etcd unreachable: unknown, said as such
                registered = None
        if address:
            health = probe(address, http=self.service.http)
        return InstanceState(
            self.name, self.service.name, pid, address, health, registered, self.log_path
        )

    def log_lines(self, lines: int = 50) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            return []

    def follow_log(self, poll_s: float = 0.2) -> Iterator[str]:
        """New lines of the log as they are written, until the instance stops."""
        with open(self.log_path, errors="replace") as f:  # noqa: PTH123
            f.seek(0, 2)
            while True:
                line = f.readline()
                if line:
                    yield line.rstrip("\n")
                elif self._pid() is None:
                    return
                else:
                    time.sleep(poll_s)


def _pid_in(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and pid_alive(pid) else None
