"""etcd as a 3-member cluster (`sage mesh up --etcd-members 3`): three real etcd members on
loopback with the mesh's auth, a real service registered through every endpoint; one member is
killed (-9) and discovery, lease renewal and a fresh registration go on through the others."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from sage_client.discovery import EtcdResolver, NoInstances, connect_etcd_any
from sage_deploy import infra
from sage_deploy.launcher import Mesh
from sage_deploy.processes import StartError, free_port
from sage_deploy.secrets import load as load_secrets
from tests.conftest import spawn_service


def _wait(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    members = [(f"etcd-{k}", free_port(), free_port()) for k in range(3)]
    initial = infra.etcd_members(members)
    procs = [
        infra.etcd_process(tmp_path, port, peer, name, initial).start()
        for name, port, peer in members
    ]
    try:
        for proc, (_, port, _) in zip(procs, members, strict=True):
            infra.wait_port(proc, port)
        infra.etcd_wait_leader(members[0][1])
        infra.etcd_enable_auth(members[0][1], load_secrets(os.environ["SAGE_SECRETS_FILE"]))
        yield procs, [f"127.0.0.1:{port}" for _, port, _ in members]
    finally:
        for proc in procs:
            proc.stop(grace=2)


def _ids(resolver: EtcdResolver, service: str = "kv") -> set[str]:
    try:
        return {i.instance_id for i in resolver.instances(service)}
    except NoInstances:
        return set()


def test_mesh_keeps_serving_with_one_member_killed(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    procs, endpoints = cluster
    services = []
    try:
        first = spawn_service(
            tmp_path,
            "kv-a",
            "sage_kv",
            backend="memory",
            etcd_endpoints=endpoints,
            registration_ttl_s=2,
        )
        services.append(first)
        follower = EtcdResolver(endpoints)  # watches through the first member
        assert _ids(follower) == {first.instance_id}

        os.kill(procs[0].pid, signal.SIGKILL)  # the member every client tried first
        procs[0].proc.wait(5)

        # a fresh registration, with the dead member first in its list
        second = spawn_service(
            tmp_path,
            "kv-b",
            "sage_kv",
            backend="memory",
            etcd_endpoints=endpoints,
            registration_ttl_s=2,
        )
        services.append(second)
        both = {first.instance_id, second.instance_id}
        # the watch of the running resolver moved to a live member and saw the new instance
        assert _wait(lambda: _ids(follower) == both), _ids(follower)
        # two TTLs later the first instance's lease was renewed through another member
        time.sleep(4.5)
        fresh = EtcdResolver(endpoints)
        try:
            assert _ids(fresh) == both
        finally:
            fresh.close()
        # a graceful stop still removes its key (revoke through a live member)
        second.proc.stop(grace=5)
        assert _wait(lambda: _ids(follower) == {first.instance_id}), _ids(follower)
        follower.close()
    finally:
        for service in services:
            service.proc.stop(grace=2)


def test_every_member_dead_is_reported(tmp_path: Path) -> None:
    resolver = EtcdResolver([f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"], 2)
    try:
        with pytest.raises(NoInstances, match="no etcd member answered"):
            resolver.instances("kv")
    finally:
        resolver.close()


async def _put_get(endpoints: list[str]) -> None:
    writer, _ = await connect_etcd_any(endpoints[:1])
    reader, _ = await connect_etcd_any(endpoints[2:])
    try:
        await writer.put(b"/sage/test/cluster", b"one")
        got = await reader.get(b"/sage/test/cluster")
        assert got is not None and got.value == b"one"
        await writer.delete(b"/sage/test/cluster")
    finally:
        await writer.close()
        await reader.close()


def test_launcher_starts_a_three_member_cluster(tmp_path: Path) -> None:
    mesh = Mesh(tmp_path / "run", ephemeral=True, etcd_members=3, log=lambda *_: None)
    ports = mesh._ports()
    secrets_data = load_secrets(os.environ["SAGE_SECRETS_FILE"])
    try:
        endpoints = mesh.ensure_etcd(ports, secrets_data)
        assert len(endpoints.split(",")) == 3
        # the three formed one cluster: a key written through one is read through another
        asyncio.run(_put_get(endpoints.split(",")))
        assert mesh.status() == []  # through every endpoint, with the mesh's credentials
    finally:
        stopped = mesh.down(grace=2)
    assert sorted(stopped) == ["etcd", "etcd-1", "etcd-2"]
    # the same run directory cannot become a single member: its cluster's size is in its data
    again = Mesh(tmp_path / "run", ephemeral=True, etcd_members=1, log=lambda *_: None)
    with pytest.raises(StartError, match="has 3 member"):
        again.ensure_etcd(again._ports(), secrets_data)


def test_launcher_refuses_an_even_cluster(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="1, 3 or 5 members"):
        Mesh(tmp_path, etcd_members=2)
