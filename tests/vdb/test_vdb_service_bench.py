"""bench/vdb_service.py's own measuring helpers: the restart it times, the process it reads the
memory of, the idle point it waits for before timing milvus-lite, and the recall it computes."""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from sage_client.vdb import VDBClient
from sage_deploy.processes import pid_alive
from tests.conftest import ServiceProcess
from tests.vdb.conftest import random_vectors

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH_DIR))  # the script imports bench_auth from its own folder
    try:
        yield importlib.import_module("vdb_service")
    finally:
        sys.path.remove(str(BENCH_DIR))


def bench_collection(
    bench: ModuleType, start_service: Callable[..., ServiceProcess], n: int
) -> tuple[ServiceProcess, np.ndarray]:
    """A VDB service holding the bench's collection of ``n`` unit vectors, flushed."""
    service = start_service("sage_vdb")
    vectors = random_vectors(n, bench.DIM)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with VDBClient(address=service.address) as client:
        client.create_collection("bench", bench.DIM, metric="cosine", index=bench.HNSW)
        client.bulk_upsert("bench", [str(i) for i in range(len(vectors))], vectors)
        client.flush("bench")
    return service, vectors


def test_reopen_restarts_the_service_and_times_until_the_collection_answers(
    bench: ModuleType, start_service: Callable[..., ServiceProcess]
) -> None:
    service, vectors = bench_collection(bench, start_service, 300)
    old_pid = service.proc.pid
    assert bench.service_rss_mb(old_pid) > 10  # a Python process with the native core loaded

    seconds, address = bench.reopen_s(service.proc, vectors[7])

    assert 0 < seconds < 60
    assert not pid_alive(old_pid)
    assert service.proc.pid != old_pid
    with VDBClient(address=address) as client:
        (hit,) = client.search("bench", vectors[7:8], top_k=1)
        assert hit.ids == ["7"]  # the data dir was reopened, not a fresh one
        assert client.get_collection("bench").count == len(vectors)


def test_idle_wait_waits_out_busy_threads_and_gives_up_at_its_limit(bench: ModuleType) -> None:
    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            sum(range(10_000))

    busy = threading.Thread(target=burn)
    busy.start()
    try:
        waited, idle = bench.wait_milvus_lite_idle(limit_s=2)
    finally:
        stop.set()
        busy.join()
    assert not idle
    assert waited >= 2

    started = time.perf_counter()
    waited, idle = bench.wait_milvus_lite_idle(limit_s=10)
    assert idle
    assert 1 <= waited < 5
    assert time.perf_counter() - started == pytest.approx(waited, abs=0.5)


def test_recall_counts_the_exact_top_10_among_the_ids_returned(bench: ModuleType) -> None:
    data = random_vectors(200, 16, seed=3)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = data[:20]
    truth = bench.brute_force_top_k(data, queries)
    assert truth[:, 0].tolist() == list(range(20))  # each query's nearest is itself
    assert bench.recall_against([[str(i) for i in row] for row in truth], truth) == 1.0
    half = [row[:5].tolist() + [-1] * 5 for row in truth]
    assert bench.recall_against(half, truth) == 0.5


def test_h2load_drives_real_searches_and_refuses_to_count_grpc_errors(
    bench: ModuleType, start_service: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    service, vectors = bench_collection(bench, start_service, 200)
    request = bench.vdb_pb2.SearchRequest(
        collection="bench", queries=vectors[3].tobytes(), top_k=bench.TOP_K
    )
    reply_bytes = 40  # a floor: a top-10 reply holds 10 float32 scores and 10 ids

    figures = bench.h2load_nq1(tmp_path, service.address, request, reply_bytes, 1.0)

    assert figures["qps"] > 50  # a C client against a live service for a second
    assert 0 < figures["mean_ms"] < 1000
    # a collection that does not exist: every reply is a gRPC NOT_FOUND, which h2load calls a 200
    missing = bench.vdb_pb2.SearchRequest(
        collection="nope", queries=vectors[3].tobytes(), top_k=bench.TOP_K
    )
    with pytest.raises(RuntimeError, match="not search results"):
        bench.h2load_nq1(tmp_path, service.address, missing, reply_bytes, 1.0)
