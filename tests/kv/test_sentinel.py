"""The KV service on Redis Sentinel: a primary, a replica and three sentinels as real processes on
loopback with the mesh's ACL users. The primary is killed (-9) while a client writes; the service
follows the failover without a restart and every acknowledged write (appendfsync always + WAIT for
one replica) is read back from the new primary."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from sage_client import KVClient, Unavailable
from sage_deploy import infra, redis_ha
from sage_deploy.processes import ManagedProcess, free_port
from sage_deploy.secrets import load as load_secrets
from tests.conftest import spawn_service

MASTER = "sage"
_ns = itertools.count()


@dataclass
class SentinelSet:
    primary: ManagedProcess
    replica: ManagedProcess
    sentinels: list[ManagedProcess]
    primary_port: int
    replica_port: int
    sentinel_addrs: list[str]
    secrets: dict
    run_dir: Path

    def admin(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=self.secrets["redis"]["password"], socket_timeout=2)

    def current_primary(self) -> int:
        host_port = self.admin(int(self.sentinel_addrs[1].rsplit(":", 1)[1])).execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER
        )
        return int(host_port[1])


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def sentinel_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    run_dir = tmp_path_factory.mktemp("sentinel")
    (run_dir / "logs").mkdir()
    secrets = load_secrets(os.environ["SAGE_SECRETS_FILE"])
    primary_port, replica_port = free_port(), free_port()
    procs: list[ManagedProcess] = []
    try:
        primary = redis_ha.node_process(run_dir, primary_port, "primary", secrets).start()
        procs.append(primary)
        infra.wait_port(primary, primary_port)
        replica = redis_ha.node_process(
            run_dir, replica_port, "replica", secrets, replica_of=primary_port
        ).start()
        procs.append(replica)
        infra.wait_port(replica, replica_port)
        sentinels, addrs = [], []
        for k in range(3):
            port = free_port()
            proc = redis_ha.sentinel_process(
                run_dir, port, f"sentinel-{k}", primary_port, secrets, MASTER
            ).start()
            procs.append(proc)
            infra.wait_port(proc, port)
            sentinels.append(proc)
            addrs.append(f"127.0.0.1:{port}")
        ha = SentinelSet(
            primary, replica, sentinels, primary_port, replica_port, addrs, secrets, run_dir
        )

        def ready() -> bool:  # the replica in sync, every sentinel knows the others and it
            info = ha.admin(primary_port).info("replication")
            if info.get("connected_slaves") != 1 or info["slave0"]["state"] != "online":
                return False
            for addr in addrs:
                state = ha.admin(int(addr.rsplit(":", 1)[1])).sentinel_master(MASTER)
                if state["num-other-sentinels"] != 2 or state["num-slaves"] != 1:
                    return False
            return True

        _wait(ready, 30, "the replica and the sentinels to find each other")
        yield ha
    finally:
        for proc in procs:
            proc.stop(grace=2)
        if "ha" in locals() and ha.primary not in procs:  # the primary restarted by a test
            ha.primary.stop(grace=2)


def _kv_service(tmp_path: Path, ha: SentinelSet, wait_replicas: int, timeout_ms: int):  # type: ignore[no-untyped-def]
    return spawn_service(
        tmp_path,
        f"kv-sentinel-{next(_ns)}",
        "sage_kv",
        backend="redis",
        # the app user's credentials; host and port are the sentinels' business
        redis_url=infra.redis_url(ha.primary_port, ha.secrets),
        redis_sentinels=ha.sentinel_addrs,
        redis_master_name=MASTER,
        redis_wait_replicas=wait_replicas,
        redis_wait_timeout_ms=timeout_ms,
    )


def test_a_write_no_replica_holds_is_not_acknowledged(
    sentinel_set: SentinelSet, tmp_path: Path
) -> None:
    service = _kv_service(tmp_path, sentinel_set, wait_replicas=2, timeout_ms=200)
    kv = KVClient(f"wait-{next(_ns)}", address=service.address)
    try:
        with pytest.raises(Unavailable, match="only 1 of 2 replicas"):
            kv.put("k", b"v")
        # WAIT cannot undo: the write is on the primary, only not promised; the service serves on
        assert kv.get("k") == b"v"
    finally:
        kv.close()
        service.proc.stop(grace=2)


def test_sentinels_want_the_mesh_users_and_give_the_app_user_no_admin(
    sentinel_set: SentinelSet,
) -> None:
    port = int(sentinel_set.sentinel_addrs[0].rsplit(":", 1)[1])
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, socket_timeout=2).sentinel_masters()
    app = redis.Redis(
        port=port, username="sage", password=sentinel_set.secrets["redis"]["users"]["sage"]
    )
    assert app.sentinel_get_master_addr_by_name(MASTER)[1] == sentinel_set.primary_port
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.sentinel_set(MASTER, "down-after-milliseconds", 1)


def test_gateway_rate_counters_through_the_sentinels(sentinel_set: SentinelSet) -> None:
    from sage_gateway.ratelimit import RedisCounters

    async def hits() -> list[tuple[int, int, bool]]:
        counters = RedisCounters(
            infra.redis_url(sentinel_set.primary_port, sentinel_set.secrets),
            sentinel_set.sentinel_addrs,
            MASTER,
        )
        key = f"sage:test:rl:{next(_ns)}:{time.time_ns()}"
        try:
            return [await counters.hit(key + ":r", key + ":t", rpm=2) for _ in range(3)]
        finally:
            await counters.close()

    assert [admitted for _, _, admitted in asyncio.run(hits())] == [True, True, False]


def test_failover_of_the_primary_loses_no_acknowledged_write(
    sentinel_set: SentinelSet, tmp_path: Path
) -> None:
    ha = sentinel_set
    service = _kv_service(tmp_path, ha, wait_replicas=1, timeout_ms=2000)
    kv = KVClient(f"failover-{next(_ns)}", address=service.address)
    acked: dict[str, bytes] = {}
    refused = 0

    def write(n: int, deadline_s: float) -> None:
        nonlocal refused
        deadline = time.monotonic() + deadline_s
        target = len(acked) + n
        i = len(acked) + refused
        while len(acked) < target:
            assert time.monotonic() < deadline, (
                f"{len(acked)} writes acknowledged, {refused} refused"
            )
            key, value = f"k{i}", f"v{i}".encode()
            i += 1
            try:
                kv.put(key, value)
            except Unavailable:
                refused += 1  # not acknowledged: the client may retry, nothing is promised
                time.sleep(0.05)
                continue
            acked[key] = value

    try:
        write(50, 20)
        before = len(acked)
        os.kill(ha.primary.pid, signal.SIGKILL)
        ha.primary.proc.wait(5)
        _wait(lambda: ha.current_primary() == ha.replica_port, 20, "the sentinels' failover")
        # the old primary comes back; the sentinels make it a replica of the new one, so a write
        # can again be held by two nodes (until then WAIT 1 refuses to acknowledge any)
        ha.primary = redis_ha.node_process(
            ha.run_dir, ha.primary_port, "primary", ha.secrets
        ).start()
        write(50, 30)  # goes on through the failover: the same service process, no restart
        assert refused > 0  # the kill was felt: writes were refused until a replica held them
        assert service.proc.proc.poll() is None
        # on a loaded host the sentinels may fail over once more (the returned node, now a
        # synced replica, promoted back): still one of the two nodes, and nothing acked is lost
        assert ha.current_primary() in (ha.replica_port, ha.primary_port)
        got = {key: kv.get(key) for key in acked}
        assert (before, len(got)) == (50, len(acked))
        lost = [key for key, value in acked.items() if got[key] != value]
        assert lost == [], f"{len(lost)} of {len(acked)} acknowledged writes lost"
    finally:
        kv.close()
        service.proc.stop(grace=2)
