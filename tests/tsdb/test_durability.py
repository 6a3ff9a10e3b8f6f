"""kill -9 durability: every acknowledged durable write survives, in the core (a writer process
killed mid-stream) and in the service (killed during batched gRPC writes)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sage_client import SageError
from sage_client.tsdb import TSDBClient
from sage_native import TimeSeriesDB
from tests.conftest import spawn_service

WRITER = Path(__file__).with_name("crash_writer.py")


@pytest.mark.parametrize("fsync", ["group", "always"])
def test_kill_9_of_a_writer_keeps_every_acknowledged_batch(tmp_path: Path, fsync: str) -> None:
    path = str(tmp_path / "db")
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), path, fsync], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acknowledged: list[int] = []
    deadline = time.monotonic() + 30
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(acknowledged) >= 60, "the writer did not get going"
    with TimeSeriesDB(path) as db:
        [series] = db.query("crash")["series"]
        stored = set(series["timestamps"].tolist())
        for base in acknowledged:
            assert set(range(base, base + 50)) <= stored, f"batch {base} lost"
        ts = series["timestamps"]
        assert np.all(np.diff(ts) >= 0)
        np.testing.assert_array_equal(series["values"], ts * 0.5)


def test_kill_9_of_the_service_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = spawn_service(tmp_path, "tsdb-crash", "sage_tsdb", data_dir=data)
    acknowledged: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with TSDBClient(address=service.address, timeout=10) as tsdb:
            batch = 0
            while not stop.is_set():
                ts = np.arange(batch * 500, (batch + 1) * 500)
                try:
                    tsdb.write_points("bulk", ts, ts * 2.0, tags={"k": "v"}, durability="sync")
                except SageError:
                    return  # the server died mid-call: never acknowledged
                acknowledged.append(batch)
                batch += 1

    writer = threading.Thread(target=load)
    writer.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    service.proc.signal(signal.SIGKILL)
    stop.set()
    writer.join(timeout=30)
    service.proc.stop(grace=1)
    assert len(acknowledged) >= 40

    restarted = spawn_service(tmp_path, "tsdb-after", "sage_tsdb", data_dir=data)
    try:
        with TSDBClient(address=restarted.address) as tsdb:
            [series] = tsdb.query("bulk")
            n = (acknowledged[-1] + 1) * 500
            assert series.timestamps[:n].tolist() == list(range(n))
            np.testing.assert_array_equal(series.values[:n], np.arange(n) * 2.0)
    finally:
        restarted.proc.stop(grace=5)
