"""kill -9 of the VDB service during a bulk load: every acknowledged durable upsert survives."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import numpy as np

from sage_client import SageError
from sage_client.vdb import VDBClient
from tests.conftest import spawn_service
from tests.vdb.conftest import random_vectors

DIM = 32
BATCH = 200


def test_acknowledged_upserts_survive_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = spawn_service(tmp_path, "vdb-crash", "sage_vdb", data_dir=data)
    acknowledged: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with VDBClient(address=service.address, timeout=10) as vdb:
            vdb.create_collection("bulk", DIM, metric="l2", index="hnsw")
            batch = 0
            while not stop.is_set():
                ids = [f"b{batch}-{i}" for i in range(BATCH)]
                try:
                    vdb.upsert(
                        "bulk", ids, random_vectors(BATCH, DIM, seed=batch), durability="sync"
                    )
                except SageError:
                    return  # the server died mid-call: this batch was never acknowledged
                acknowledged.extend(ids)
                batch += 1

    writer = threading.Thread(target=load)
    writer.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 20 * BATCH and time.monotonic() < deadline:
        time.sleep(0.05)
    service.proc.signal(signal.SIGKILL)
    stop.set()
    writer.join(timeout=30)
    service.proc.stop(grace=1)
    assert len(acknowledged) >= 20 * BATCH

    restarted = spawn_service(tmp_path, "vdb-after", "sage_vdb", data_dir=data)
    try:
        with VDBClient(address=restarted.address) as vdb:
            found = vdb.get("bulk", acknowledged, include=["vectors"])
            assert len(found.ids) == len(acknowledged)
            last = int(acknowledged[-1].split("-")[0][1:])
            assert found.vectors is not None
            np.testing.assert_array_equal(
                found.vectors[-BATCH:], random_vectors(BATCH, DIM, seed=last)
            )
    finally:
        restarted.proc.stop(grace=5)
