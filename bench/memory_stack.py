"""Start the memory service with its dependencies (KV, VDB, LLM) as local processes on free
loopback ports, for benchmarks:

    from memory_stack import start_memory_stack      # from a script in bench/
    stack = start_memory_stack(Path(run_dir))
    ... MemoryClient(address=stack.memory) ...
    stack.stop()

KV uses its memory backend unless ``kv_redis=True``: then a redis-server with the mesh's ACL is
started and the KV runs its ``redis`` backend on it (what ``sage mesh up`` deploys). The LLM
service runs its mock engine (real all-MiniLM-L6-v2 embeddings),
VDB is ``sage_vdb`` when installed, else the test stand-in over ``sage_native``. Run from the
repository root (the stand-in is ``tests.memory.vdb_standin``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sage_deploy import infra
from sage_deploy.processes import ManagedProcess, free_port
from sage_deploy.secrets import load as load_secrets

VDB_MODULE = "sage_vdb" if importlib.util.find_spec("sage_vdb") else "tests.memory.vdb_standin"


@dataclass
class MemoryStack:
    kv: str
    vdb: str
    llm: str
    memory: str
    vdb_module: str
    processes: list[ManagedProcess] = field(default_factory=list)
    kv_backend: str = "memory"

    def pid(self, name: str) -> int:
        """The pid of the service started as ``name`` (kv, vdb, llm, memory, redis)."""
        return next(p.pid for p in self.processes if p.name == name)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop(grace=5)


def _start(
    run_dir: Path, name: str, module: str, settings: dict[str, str]
) -> tuple[ManagedProcess, str]:
    ready = run_dir / f"{name}.ready.json"
    env = {
        "SAGE_DATA_DIR": str(run_dir / f"{name}.data"),
        "SAGE_READY_FILE": str(ready),
        "SAGE_LOG_LEVEL": "WARNING",
        **settings,
    }
    proc = ManagedProcess(
        name, [sys.executable, "-m", module], run_dir / f"{name}.log", env=env, ready_file=ready
    ).start()
    return proc, proc.wait_ready_file(120)["address"]


def start_memory_stack(
    run_dir: Path, memory_settings: dict[str, str] | None = None, kv_redis: bool = False
) -> MemoryStack:
    """KV, VDB, LLM, then the memory service wired to them; returns once all are SERVING."""
    run_dir.mkdir(parents=True, exist_ok=True)
    procs: list[ManagedProcess] = []
    try:
        kv_settings = {"SAGE_BACKEND": "memory"}
        if kv_redis:
            secrets = load_secrets(os.environ["SAGE_SECRETS_FILE"])
            port = free_port()
            redis_proc = infra.redis_process(run_dir, port, secrets=secrets).start()
            procs.append(redis_proc)
            infra.wait_port(redis_proc, port)
            kv_settings = {
                "SAGE_BACKEND": "redis",
                "SAGE_REDIS_URL": infra.redis_url(port, secrets),
            }
        addresses: dict[str, str] = {}
        for name, module, settings in (
            ("kv", "sage_kv", kv_settings),
            ("vdb", VDB_MODULE, {}),
            ("llm", "sage_llm", {"SAGE_BACKEND": "mock"}),
        ):
            proc, addresses[name] = _start(run_dir, name, module, settings)
            procs.append(proc)
        wiring = {f"SAGE_{n.upper()}_ADDRESS": a for n, a in addresses.items()}
        proc, memory = _start(
            run_dir, "memory", "sage_memory", {**wiring, **(memory_settings or {})}
        )
        procs.append(proc)
    except BaseException:
        for p in reversed(procs):
            p.stop(grace=2)
        raise
    return MemoryStack(
        addresses["kv"],
        addresses["vdb"],
        addresses["llm"],
        memory,
        VDB_MODULE,
        procs,
        "redis" if kv_redis else "memory",
    )
