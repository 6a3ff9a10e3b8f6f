"""Dependencies going away: health, UNAVAILABLE naming the missing service, and no half-written
memory when VDB is killed in the middle of a stream of stores."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sage_client.errors import SageError, Unavailable
from sage_client.kv import KVClient
from sage_client.memory import MemoryClient
from sage_deploy.processes import free_port
from sage_memory import records
from sage_memory.config import MemoryConfig
from tests.conftest import ServiceProcess, spawn_service
from tests.memory.conftest import VDB_MODULE, MemoryStarter, unit_vectors


def health(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=2
        )
    return int(reply.status)


def wait_health(address: str, status: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while health(address) != status:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{address} did not reach health status {status} within {timeout}s"
            )
        time.sleep(0.2)


def test_not_serving_until_vdb_is_reachable_and_calls_name_it(
    start_memory: MemoryStarter, tmp_path: Path
) -> None:
    vdb_port = free_port()
    memory = start_memory(f"127.0.0.1:{vdb_port}", wait=False)
    info = memory.proc.wait_ready_file(60)
    address = info["address"]
    assert health(address) == health_pb2.HealthCheckResponse.NOT_SERVING
    with MemoryClient(address=address) as client, pytest.raises(Unavailable) as failure:
        client.store_memory("s", "x", vector=unit_vectors(1)[0])
    assert failure.value.metadata["backend"] == "vdb"
    assert "VDB service is unavailable" in failure.value.message

    vdb = spawn_service(tmp_path, "late-vdb", VDB_MODULE, port=vdb_port)
    try:
        wait_health(address, health_pb2.HealthCheckResponse.SERVING)
        with MemoryClient(address=address) as client:
            stored = client.store_memory("s", "x", vector=unit_vectors(1)[0])
            assert client.get_memory(stored["id"])["content"] == "x"
    finally:
        vdb.proc.stop(grace=5)


def reached_vdb(address: str, vector: np.ndarray, sid: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    with MemoryClient(address=address) as client:
        while True:
            try:
                client.search_memories(vector, session_id=sid, top_k=1)
                return
            except Unavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


@pytest.mark.slow
def test_killing_vdb_mid_stream_leaves_no_half_written_memory(
    start_memory: MemoryStarter, kv_service: ServiceProcess, tmp_path: Path
) -> None:
    vdb_port = free_port()
    vdb_dir = tmp_path / "vdb.data"
    vdb = spawn_service(tmp_path, "vdb-a", VDB_MODULE, port=vdb_port, data_dir=vdb_dir)
    memory = start_memory(vdb.address, orphan_grace_s=1, orphan_sweep_interval_s=0.3)
    sid = "stream"
    vectors = unit_vectors(400, seed=11)
    acked: dict[str, int] = {}
    failed: list[SageError] = []
    stop = threading.Event()

    def stream() -> None:
        with MemoryClient(address=memory.address, timeout=10) as client:
            for i, v in enumerate(vectors):
                if stop.is_set():
                    return
                try:
                    acked[client.store_memory(sid, f"memory {i}", vector=v)["id"]] = i
                except SageError as exc:
                    failed.append(exc)

    writer = threading.Thread(target=stream)
    writer.start()
    while len(acked) < 50:
        time.sleep(0.01)
    vdb.proc.signal(signal.SIGKILL)
    while len(failed) < 20 and writer.is_alive():
        time.sleep(0.01)
    stop.set()
    writer.join(30)
    assert failed, "no store failed while VDB was down"
    assert all(isinstance(f, Unavailable) and f.metadata.get("backend") == "vdb" for f in failed), (
        failed[:3]
    )

    restarted = spawn_service(tmp_path, "vdb-b", VDB_MODULE, port=vdb_port, data_dir=vdb_dir)
    try:
        wait_health(memory.address, health_pb2.HealthCheckResponse.SERVING)
        # The outage can be shorter than the memory service's readiness probe, so SERVING may be
        # stale: wait until it reaches the new VDB process (its channel reconnects with backoff).
        reached_vdb(memory.address, vectors[0], sid)
        with MemoryClient(address=memory.address) as client:
            listed = {m["id"] for m in client.list_session_memories(sid)}
            assert listed == set(acked), (
                "a memory is visible that was not acknowledged, or an acknowledged one is lost"
            )
            for mid, i in list(acked.items())[::10]:
                top = client.search_memories(vectors[i], session_id=sid, top_k=1)
                assert top[0]["id"] == mid
            found = client.search_memories(vectors[0], session_id=sid, top_k=100)
            assert {h["id"] for h in found} <= set(acked)
        # The failed stores' index entries outlived their undo (VDB was down); once it is back,
        # the sweep removes them and the index names exactly the acknowledged memories.
        with KVClient(
            MemoryConfig.model_fields["kv_namespace"].default, address=kv_service.address
        ) as kv:

            def indexed() -> set[str]:
                return {
                    records.parse_entry_key(e.key)[0]
                    for e in kv.scan(records.session_prefix(sid), include_values=False)
                }

            deadline = time.monotonic() + 15
            while indexed() != set(acked):
                assert time.monotonic() < deadline, (
                    f"index still holds {len(indexed() - set(acked))} uncommitted entries"
                )
                time.sleep(0.2)
    finally:
        restarted.proc.stop(grace=5)
