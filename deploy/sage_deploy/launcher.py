"""`sage mesh up|status|down`: the mesh as processes on one machine, no Docker.

Everything lives under a run directory (default ``./run``): ``state.json``
(ports), ``pids/``, ``logs/``, ``ready/`` (one file per service instance,
written once it is SERVING), ``eds/`` (Envoy endpoints), ``envoy.yaml`` with
``descriptors.pb`` (what Envoy's JSON transcoder reads), data directories and
``secrets/mesh.json`` (mode 0600, written at first start by ``sage_deploy.secrets``): every
process started here gets ``SAGE_SECRETS_FILE`` naming it and ``SAGE_PRINCIPAL`` (the gateway and
memory services their own principals, everything else ``service``); Redis runs with its ACL users
and etcd with auth on, both from that file.
``up`` starts only what is not already running (a pid file whose process is
gone is stale and replaced) and returns once every instance is SERVING and
Envoy routes to it.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sage_client.progress import LineSink, Progress
from sage_deploy import infra
from sage_deploy.descriptors import transcoded_services, write_descriptor_set
from sage_deploy.envoy_config import EnvoyLimits, bootstrap, write_atomic, write_eds
from sage_deploy.processes import ManagedProcess, StartError, free_port, pid_alive, stop_pid
from sage_deploy.secrets import ensure_mesh_secrets
from sage_deploy.secrets import load as load_secrets
from sage_deploy.topology import ServiceDef, Topology, load_topology

STOP_ORDER_LAST = ("redis", "etcd")
# The principal each process presents (SAGE_PRINCIPAL); a service not named here runs as "service".
PRINCIPALS = {
    "gateway": "gateway",
    "memory": "memory",
    "kernel": "service",
    "studio": "jobs",  # its Jobs page lists jobs (JobService needs the jobs role); admins only
}
DEFAULT_PRINCIPAL = "service"


@dataclass
class Endpoints:
    envoy: str
    envoy_admin: str
    etcd: str
    redis: str
    instances: dict[str, str]
    envoy_passthrough: dict[str, str] = field(
        default_factory=dict
    )  # service -> its L4 listener's address
    secrets: str = ""  # the mesh's secrets file (tokens, etcd and Redis passwords)


def parse_settings(items: list[str] | None) -> dict[str, dict[str, str]]:
    """``["llm.backend=mock", ...]`` -> ``{"llm": {"backend": "mock"}}``."""
    settings: dict[str, dict[str, str]] = {}
    for item in items or ():
        target, sep, value = item.partition("=")
        service, dot, key = target.partition(".")
        if not sep or not dot or not service or not key:
            raise ValueError(f"--set {item!r}: expected SERVICE.KEY=VALUE, e.g. llm.backend=mock")
        settings.setdefault(service, {})[key] = value
    return settings


def _passthrough_key(service: str) -> str:
    return f"envoy_passthrough_{service}"


def _lost_port_race(proc: ManagedProcess) -> bool:
    """A free port picked for ``--ephemeral-ports`` can be taken by another process before ours binds it."""
    tail = proc.tail(40).lower()
    return "address already in use" in tail or "failed to bind" in tail or "cannot bind" in tail


def _envoy_live(proc: ManagedProcess, admin_port: int, timeout: float) -> bool:
    """True once this Envoy answers LIVE on its admin port; False if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc is not None and proc.proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/ready", timeout=1) as reply:
                if reply.status == 200 and proc.proc is not None and proc.proc.poll() is None:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


class Mesh:
    def __init__(
        self,
        run_dir: Path | str = "run",
        topology: Topology | None = None,
        *,
        ephemeral: bool = False,
        services: list[str] | None = None,
        settings: dict[str, dict[str, str]] | None = None,
        log=print,
        secrets_file: Path | str | None = None,
        etcd_members: int | None = None,
    ) -> None:  # type: ignore[no-untyped-def]
        """``secrets_file``: the mesh's secrets (``sage_client.credentials`` shape) to use instead
        of ``<run_dir>/secrets/mesh.json`` (written at first start), e.g. a test session's."""
        self.run_dir = Path(run_dir).resolve()
        # etcd_members None: as many as the run directory has (one for a new one)
        if etcd_members not in (None, 1, 3, 5):
            raise ValueError(
                f"--etcd-members {etcd_members}: an etcd cluster has 1, 3 or 5 members "
                "(3 survives one lost member, 5 two)"
            )
        self.etcd_members = etcd_members
        self.topology = topology or load_topology()
        self.ephemeral = ephemeral
        self.only = services
        self.settings = settings or {}  # per service: config key -> value, passed as SAGE_<KEY>
        self.log = log
        self.state_path = self.run_dir / "state.json"
        self.own_secrets = secrets_file is None
        self.secrets_path = (
            self.run_dir / "secrets" / "mesh.json" if secrets_file is None else Path(secrets_file)
        )

    def _env(self, principal: str) -> dict[str, str]:
        """What every process started here gets: the mesh's secrets file and its principal."""
        return {"SAGE_SECRETS_FILE": str(self.secrets_path), "SAGE_PRINCIPAL": principal}

    # -- state ----------------------------------------------------------------
    def _ports(self) -> dict[str, int]:
        if self.state_path.exists():
            return self._etcd_member_ports(json.loads(self.state_path.read_text())["ports"])
        t = self.topology
        ports = {
            "etcd": t.etcd_port,
            "etcd_peer": t.etcd_peer_port,
            "redis": t.redis_port,
            "envoy": t.envoy_port,
            "envoy_admin": t.envoy_admin_port,
        }
        for name, port in t.envoy_passthrough.items():
            ports[_passthrough_key(name)] = port
        for svc in t.services:
            for i in range(svc.replicas):
                ports[f"{svc.name}-{i}"] = svc.port + i
                ports[f"{svc.name}-{i}-metrics"] = svc.metrics_port + i
        if self.ephemeral:
            ports = {k: free_port() for k in ports}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps({"ports": ports}, indent=2))
        return self._etcd_member_ports(ports)

    def _etcd_member_ports(self, ports: dict[str, int]) -> dict[str, int]:
        """Ports of the etcd members beyond the first (``etcd-<k>``, ``etcd-<k>_peer``): the
        topology's etcd ports + 100 k, or free ones with ephemeral ports; saved once chosen."""
        added = False
        for k in range(1, self.etcd_members or 1):
            if f"etcd-{k}" not in ports:
                base = ports["etcd"] if self.ephemeral else self.topology.etcd_port
                peer = ports["etcd_peer"] if self.ephemeral else self.topology.etcd_peer_port
                ports[f"etcd-{k}"] = free_port() if self.ephemeral else base + 100 * k
                ports[f"etcd-{k}_peer"] = free_port() if self.ephemeral else peer + 100 * k
                added = True
        if added:
            self._save_ports(ports)
        return ports

    def etcd_members_of(self, ports: dict[str, int]) -> list[tuple[str, int, int]]:
        """(name, client port, peer port) of every etcd member of this run directory."""
        members = [("etcd", ports["etcd"], ports["etcd_peer"])]
        k = 1
        while f"etcd-{k}" in ports:
            members.append((f"etcd-{k}", ports[f"etcd-{k}"], ports[f"etcd-{k}_peer"]))
            k += 1
        return members

    def etcd_endpoints(self, ports: dict[str, int]) -> str:
        """Every member's client address, comma-separated (what SAGE_ETCD_ENDPOINTS takes)."""
        return ",".join(f"127.0.0.1:{port}" for _, port, _ in self.etcd_members_of(ports))

    def _save_ports(self, ports: dict[str, int]) -> None:
        self.state_path.write_text(json.dumps({"ports": ports}, indent=2))

    def _spawn(
        self, svc: ServiceDef, i: int, ports: dict[str, int], etcd_addr: str, redis_url: str
    ) -> ManagedProcess:
        name = f"{svc.name}-{i}"
        ready = self.run_dir / "ready" / f"{name}.json"
        ready.parent.mkdir(parents=True, exist_ok=True)
        env = {
            "SAGE_HOST": "127.0.0.1",
            "SAGE_PORT": str(ports[name]),
            "SAGE_METRICS_PORT": str(ports[f"{name}-metrics"]),
            "SAGE_INSTANCE_ID": f"{name}-{secrets.token_hex(3)}",
            "SAGE_ETCD_ENDPOINTS": etcd_addr,
            "SAGE_REDIS_URL": redis_url,
            "SAGE_READY_FILE": str(ready),
            "SAGE_DATA_DIR": str(self.run_dir / "data" / name),
            **self._env(PRINCIPALS.get(svc.name, DEFAULT_PRINCIPAL)),
            **svc.env,
            **{f"SAGE_{k.upper()}": v for k, v in self.settings.get(svc.name, {}).items()},
        }
        return ManagedProcess(
            name,
            [sys.executable, "-m", svc.module],
            self.run_dir / "logs" / f"{name}.log",
            env=env,
            pid_path=self._pid_file(name),
            ready_file=ready,
        ).start()

    def _services(self) -> list[ServiceDef]:
        return [s for s in self.topology.services if self.only is None or s.name in self.only]

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / "pids" / f"{name}.pid"

    def _running(self, name: str) -> int | None:
        pid_file = self._pid_file(name)
        if not pid_file.exists():
            return None
        try:
            pid = int(pid_file.read_text().strip())
        except ValueError:
            pid = -1
        if pid > 0 and pid_alive(pid):
            return pid
        self.log(f"  {name}: stale pid file (process {pid} is gone); starting it again")
        pid_file.unlink()
        return None

    # -- up -------------------------------------------------------------------
    def ensure_etcd(self, ports: dict[str, int], secrets_data: dict) -> str:
        """etcd of this run directory (its members started, auth on, unless they run); every
        member's address, comma-separated."""
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        members = self.etcd_members_of(ports)
        wanted = self.etcd_members or len(members)
        if len(members) != wanted and (self.run_dir / "etcd.data").exists():
            raise StartError(
                f"the etcd of {self.run_dir} has {len(members)} member(s), not "
                f"{wanted}: a cluster's size is fixed when its data is first written; "
                "use another --run-dir (or `sage mesh down` and remove its etcd*.data folders)"
            )
        initial = infra.etcd_members(members) if len(members) > 1 else ""
        started = [
            (name, port, infra.etcd_process(self.run_dir, port, peer, name, initial).start())
            for name, port, peer in members
            if not self._running(name)
        ]
        for _, port, proc in started:  # every member up before any waits for a quorum
            infra.wait_port(proc, port)
        etcd_addr = self.etcd_endpoints(ports)
        if started and len(members) > 1:
            infra.etcd_wait_leader(ports["etcd"])
        if started and "etcd" in secrets_data:
            # auth is the cluster's: turned on through one member, once a leader is elected
            enabled = infra.etcd_enable_auth(ports["etcd"], secrets_data)
            self.log(
                f"  etcd      auth {'enabled' if enabled else 'on'} (user {secrets_data['etcd']['user']})"
            )
        for name, port, _ in started:
            self.log(f"  {name:<9} started on 127.0.0.1:{port} ({len(members)}-member cluster)")
        return etcd_addr

    def ensure_redis(self, ports: dict[str, int], secrets_data: dict) -> str:
        """Redis of this run directory (started unless it runs); the services' URL of it."""
        if not self._running("redis"):
            proc = infra.redis_process(self.run_dir, ports["redis"], secrets=secrets_data).start()
            infra.wait_port(proc, ports["redis"])
            self.log(
                f"  redis     started on 127.0.0.1:{ports['redis']} (ACL users from the secrets file)"
            )
        return infra.redis_url(ports["redis"], secrets_data)

    def up(self, timeout: float = 60.0) -> Endpoints:
        ports = self._ports()
        if self.own_secrets:
            ensure_mesh_secrets(self.run_dir)
        secrets_data = load_secrets(self.secrets_path)
        self.log(
            f"  secrets   {self.secrets_path} (mode 0600; the CLI here finds it, principal admin)"
        )
        etcd_addr = self.ensure_etcd(ports, secrets_data)
        redis_url = self.ensure_redis(ports, secrets_data)

        instances: dict[str, str] = {}
        starting: list[tuple[ServiceDef, int, ManagedProcess]] = []
        for svc in self._services():
            for i in range(svc.replicas):
                name = f"{svc.name}-{i}"
                ready = self.run_dir / "ready" / f"{name}.json"
                if self._running(name) and ready.exists():
                    instances[name] = json.loads(ready.read_text())["address"]
                    continue
                starting.append((svc, i, self._spawn(svc, i, ports, etcd_addr, redis_url)))
        started = Progress(  # a bar on a terminal (the CLI), lines through ``log`` otherwise
            "  instances SERVING",
            total=len(starting),
            unit="instances",
            stream=sys.stderr if self.log is print else LineSink(self.log),  # type: ignore[arg-type]
        )
        for svc, i, proc in starting:
            name = f"{svc.name}-{i}"
            for attempt in range(3):
                try:
                    instances[name] = proc.wait_ready_file(timeout)["address"]
                    break
                except StartError:
                    if not (self.ephemeral and attempt < 2 and _lost_port_race(proc)):
                        raise
                    self.log(f"  {name}: its port was taken meanwhile; picking another")
                    ports[name], ports[f"{name}-metrics"] = free_port(), free_port()
                    self._save_ports(ports)
                    proc = self._spawn(svc, i, ports, etcd_addr, redis_url)
            self.log(f"  {name:<9} SERVING on {instances[name]}")
            started.advance()
        started.close()

        grpc_services = {s.name: s.grpc_service for s in self._services() if s.is_grpc}
        http_routes = [(s.http_prefix, s.name) for s in self._services() if s.http]
        # Passthrough listeners of the services started here; a run directory whose state.json
        # predates them keeps its ports and has none.
        passthrough = {
            name: ports[_passthrough_key(name)]
            for name in self.topology.envoy_passthrough
            if name in grpc_services and _passthrough_key(name) in ports
        }
        eds_dir = self.run_dir / "eds"
        if not self._running("envoy-sync"):
            routed = [s for s in self._services() if not s.worker]  # workers take no calls
            for svc in routed:  # endpoints known now, so Envoy starts with them
                write_eds(
                    eds_dir,
                    svc.name,
                    [a for n, a in instances.items() if n.rsplit("-", 1)[0] == svc.name],
                )
            ManagedProcess(
                "envoy-sync",
                [
                    sys.executable,
                    "-m",
                    "sage_deploy.envoy_sync",
                    "--etcd",
                    etcd_addr,
                    "--eds-dir",
                    str(eds_dir),
                    *[s.name for s in routed],
                ],
                self.run_dir / "logs" / "envoy-sync.log",
                env=self._env(DEFAULT_PRINCIPAL),
                pid_path=self._pid_file("envoy-sync"),
            ).start()
        if not self._running("envoy"):
            json_services = transcoded_services(grpc_services.values())
            descriptors = self.run_dir / "descriptors.pb"  # what the JSON transcoder reads
            if json_services:
                write_descriptor_set(descriptors, json_services)

            def envoy_config() -> dict:
                # TLS is terminated by Envoy when both PEM paths are given (SAGE_ENVOY_TLS_CERT / _KEY).
                return bootstrap(
                    ports["envoy"],
                    ports["envoy_admin"],
                    eds_dir,
                    grpc_services,
                    http_routes,
                    tls_cert=os.environ.get("SAGE_ENVOY_TLS_CERT", ""),
                    tls_key=os.environ.get("SAGE_ENVOY_TLS_KEY", ""),
                    json_services=json_services,
                    descriptor_path=str(descriptors),
                    passthrough=passthrough,
                    server_names=self.topology.envoy_hosts,
                    limits=self.envoy_limits(),
                )

            config_path = self.run_dir / "envoy.yaml"
            for attempt in range(3):
                write_atomic(config_path, envoy_config())
                proc = infra.envoy_process(
                    self.run_dir, config_path, base_id=ports["envoy_admin"] % 1000
                ).start()
                if _envoy_live(proc, ports["envoy_admin"], timeout):
                    break
                if not (self.ephemeral and attempt < 2 and _lost_port_race(proc)):
                    raise StartError(f"envoy did not start; last log lines:\n{proc.tail()}")
                self.log("  envoy: its ports were taken meanwhile; picking others")
                ports["envoy"], ports["envoy_admin"] = free_port(), free_port()
                for name in passthrough:
                    ports[_passthrough_key(name)] = passthrough[name] = free_port()
                self._save_ports(ports)
            extra = "".join(
                f", {name} passthrough {port}" for name, port in sorted(passthrough.items())
            )
            self.log(
                f"  envoy     started on 127.0.0.1:{ports['envoy']} (admin {ports['envoy_admin']}{extra})"
            )
        self._wait_envoy_healthy(
            ports["envoy_admin"], [*grpc_services, *(name for _, name in http_routes)], timeout
        )
        return Endpoints(
            envoy=f"127.0.0.1:{ports['envoy']}",
            envoy_admin=f"127.0.0.1:{ports['envoy_admin']}",
            etcd=etcd_addr,
            redis=f"redis://127.0.0.1:{ports['redis']}/0",
            instances=instances,
            envoy_passthrough={name: f"127.0.0.1:{port}" for name, port in passthrough.items()},
            secrets=str(self.secrets_path),
        )

    def envoy_limits(self) -> EnvoyLimits:
        """The topology's Envoy limits; ``settings["envoy"]`` (``--set envoy.KEY=VALUE``) overrides them."""
        over = self.settings.get("envoy", {})
        base = self.topology.envoy_limits
        try:
            return EnvoyLimits(
                **{**base.__dict__, **{k: type(getattr(base, k))(v) for k, v in over.items()}}
            )
        except (TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"--set envoy.*: {exc} (keys: {', '.join(base.__dict__)})") from None

    def _wait_envoy_healthy(self, admin_port: int, clusters: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(clusters)
        while pending and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{admin_port}/clusters", timeout=2
                ) as reply:
                    text = reply.read().decode()
            except OSError:
                text = ""
            for name in list(pending):
                if any(
                    line.startswith(f"{name}::") and line.endswith("::health_flags::healthy")
                    for line in text.splitlines()
                ):
                    pending.discard(name)
            if pending:
                time.sleep(0.1)
        if pending:
            raise StartError(
                f"Envoy has no healthy endpoint for {', '.join(sorted(pending))} after {timeout:.0f}s; "
                f"see {self.run_dir / 'logs'}"
            )

    # -- status / down ----------------------------------------------------------
    def status(self) -> list[dict]:
        from sage_client.discovery import etcd_credentials
        from sage_client.task_protocol import broker_url
        from sage_deploy.status import mesh_status

        ports = self._ports()
        creds = etcd_credentials(self.secrets_path) if self.secrets_path.exists() else True
        secrets_data = load_secrets(self.secrets_path) if self.secrets_path.exists() else None
        # the task workers answer a control ping through the mesh's Redis, as the tasks user
        broker = broker_url(f"redis://127.0.0.1:{ports['redis']}/0", secrets_data)
        return mesh_status(self.etcd_endpoints(ports), creds, broker)

    def down(self, grace: float = 10.0) -> list[str]:
        pid_dir = self.run_dir / "pids"
        if not pid_dir.exists():
            return []
        names = [p.stem for p in pid_dir.glob("*.pid")]

        def last(n: str) -> str:  # every etcd member (etcd, etcd-1, ...) goes with etcd
            return "etcd" if n.startswith("etcd-") and n[5:].isdigit() else n

        names.sort(
            key=lambda n: (
                last(n) in STOP_ORDER_LAST,
                STOP_ORDER_LAST.index(last(n)) if last(n) in STOP_ORDER_LAST else 0,
                n,
            )
        )
        stopped = []
        for name in names:
            pid_file = self._pid_file(name)
            try:
                pid = int(pid_file.read_text().strip())
            except (OSError, ValueError):
                pid = -1
            if pid > 0:
                stop_pid(pid, grace)
                stopped.append(name)
            pid_file.unlink(missing_ok=True)
            (self.run_dir / "ready" / f"{name}.json").unlink(missing_ok=True)
        return stopped
