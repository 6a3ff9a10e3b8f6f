"""The task workers are a topology entry: `sage mesh up` (the launcher) starts them beside
etcd, Redis and Envoy, compose runs them, Envoy routes nothing to them, and they register in
etcd under a lease like every member: `sage mesh status` lists them with their health."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from sage_client.tasks import TaskClient
from sage_deploy import compose
from sage_deploy.launcher import Mesh
from sage_deploy.topology import ServiceDef, Topology, load_topology


def test_the_topology_runs_task_workers_without_a_route() -> None:
    topology = load_topology()
    tasks = topology.service("tasks")
    assert tasks.worker and not tasks.is_grpc and tasks.module == "sage_tasks"
    routed = str(compose.envoy(topology))
    assert "tasks" not in routed
    worker = compose.compose(topology)["services"]["tasks-0"]
    assert worker["healthcheck"]["test"][-2:] == ["sage_tasks", "--ping"]


def test_the_launcher_starts_a_worker_that_runs_tasks(tmp_path: Path) -> None:
    topology = Topology(
        etcd_port=0,
        etcd_peer_port=0,
        redis_port=0,
        envoy_port=0,
        envoy_admin_port=0,
        services=(ServiceDef("tasks", "sage_tasks", "", 0, 0, worker=True),),
    )
    mesh = Mesh(
        tmp_path,
        topology,
        ephemeral=True,
        settings={"tasks": {"registration_ttl_s": "2"}},
        log=lambda *a: None,
        secrets_file=os.environ["SAGE_SECRETS_FILE"],
    )
    try:
        endpoints = mesh.up(timeout=90)
        assert endpoints.instances["tasks-0"].startswith("tasks-0-")
        with TaskClient(endpoints.redis) as tasks:
            assert tasks.submit("sage.echo", "via the launcher").result(timeout=30) == (
                "via the launcher"
            )
        # registered in etcd, pinged through the broker: what `sage mesh status` prints
        (row,) = mesh.status()
        assert (row["service"], row["address"], row["health"]) == (
            "tasks",
            endpoints.instances["tasks-0"],
            "SERVING",
        )
        assert row["instance"] == row["address"].split("@")[0]
        assert row["metadata"]["protocol"] == "celery" and row["metadata"]["concurrency"] == 2
        # killed with its registration (no lease revoked): gone once the lease runs out
        pid = int((tmp_path / "pids" / "tasks-0.pid").read_text())
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while mesh.status():
            assert time.monotonic() < deadline, "a killed worker stayed registered"
            time.sleep(0.5)
    finally:
        mesh.down(grace=2)
