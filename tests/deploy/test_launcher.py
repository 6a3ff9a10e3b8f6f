"""`sage mesh up/status/down` brings the topology up as processes, behind a real Envoy."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sage_client import JobClient, KVClient, VDBClient
from sage_deploy.processes import pid_alive
from sage_deploy.topology import load_topology


def _sage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sage_cli.main", *args], capture_output=True, text=True, timeout=120
    )


def _pids(run_dir: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in (run_dir / "pids").glob("*.pid")}


def test_mesh_up_routes_through_envoy_and_down_stops_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    up = _sage(
        "mesh", "up", "--run-dir", str(run_dir), "--ephemeral-ports", "--set", "llm.backend=mock"
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "stop it with: sage mesh down" in up.stdout
        # progress, not a terminal: plain lines with the count and the rate
        assert re.search(r"instances SERVING: done, \d+ instances in [\d.]+ s \(", up.stderr)
        secrets = run_dir / "secrets" / "mesh.json"  # this mesh's own credentials, written by `up`
        assert f"secrets: {secrets}" in " ".join(up.stdout.split())
        monkeypatch.setenv("SAGE_SECRETS_FILE", str(secrets))
        ports = json.loads((run_dir / "state.json").read_text())["ports"]
        envoy = f"127.0.0.1:{ports['envoy']}"

        client = KVClient("launcher", address=envoy)
        assert client.put("via-envoy", b"yes") == 1
        assert client.get("via-envoy") == b"yes"

        pids = _pids(run_dir)
        assert {"etcd", "redis", "kv-0", "gateway-0", "envoy", "envoy-sync"} <= pids.keys()
        again = _sage("mesh", "up", "--run-dir", str(run_dir))
        assert again.returncode == 0, again.stderr
        assert _pids(run_dir) == pids  # nothing started twice

        status = _sage("mesh", "status", "--run-dir", str(run_dir), "--json")
        rows = json.loads(status.stdout)
        # every member registers in etcd, the task workers too (answering a ping on the broker)
        services = sorted(s.name for s in load_topology().services)
        assert sorted((r["service"], r["health"]) for r in rows) == [
            (name, "SERVING") for name in services
        ]
        with JobClient(address=envoy) as jobs:  # the job manager answers through Envoy too
            assert list(jobs.list()) == []
        with VDBClient(address=envoy) as vdb:  # the VDB service is routed by Envoy too
            vdb.create_collection("via-envoy", 2, metric="l2", index="flat")
            vdb.upsert("via-envoy", ["a"], [[1.0, 2.0]])
            assert vdb.search("via-envoy", [1.0, 2.0], top_k=1)[0].ids == ["a"]
        passthrough = (
            f"127.0.0.1:{ports['envoy_passthrough_vdb']}"  # Envoy's L4 listener for the VDB
        )
        assert f"vdb passthrough (Envoy L4): {passthrough}" in " ".join(up.stdout.split())
        with VDBClient(address=passthrough) as vdb:
            assert vdb.search("via-envoy", [[1.0, 2.0], [1.0, 2.5]], top_k=1)[1].ids == ["a"]

        os.kill(pids["kv-0"], signal.SIGKILL)  # leaves a stale pid file behind
        time.sleep(0.2)
        revived = _sage("mesh", "up", "--run-dir", str(run_dir))
        assert revived.returncode == 0, revived.stdout + revived.stderr
        assert "stale pid file" in revived.stdout
        new_pids = _pids(run_dir)
        assert new_pids["kv-0"] != pids["kv-0"] and new_pids["etcd"] == pids["etcd"]
        deadline = time.monotonic() + 15
        while True:  # Envoy follows the new instance through etcd -> EDS
            try:
                assert client.get("via-envoy") == b"yes"  # Redis kept the data
                break
            except Exception:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        running = _pids(run_dir)
        down = _sage("mesh", "down", "--run-dir", str(run_dir))
    assert down.returncode == 0
    assert len(running) >= 5
    assert not [name for name, pid in running.items() if pid_alive(pid)]
    assert not list((run_dir / "pids").glob("*.pid"))


def test_up_picks_new_ports_when_a_picked_one_is_taken_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--ephemeral-ports picks free ports before starting; another process may take one first."""
    import socket

    from sage_deploy.launcher import Mesh

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    mesh = Mesh(tmp_path / "run", ephemeral=True, services=["kv"], log=lambda *args: None)
    ports = mesh._ports()
    ports["envoy"] = taken  # Envoy's listener cannot bind this one
    ports["kv-0"] = taken  # nor can the KV instance
    mesh._save_ports(ports)
    try:
        endpoints = mesh.up(60)
        monkeypatch.setenv("SAGE_SECRETS_FILE", endpoints.secrets)
        assert endpoints.envoy != f"127.0.0.1:{taken}"
        assert endpoints.instances["kv-0"] != f"127.0.0.1:{taken}"
        assert KVClient("race", address=endpoints.envoy).put("k", b"v") == 1
    finally:
        mesh.down(grace=5)
        blocker.close()
