"""Windowed similarity join of two 384-d vector streams: sage_flow against numpy and FAISS.

Two streams of unit-length 384-d vectors (Gaussian clusters, like sentence embeddings) are cut
into tumbling windows of ``--window`` vectors per stream; in each window every left vector gets
its top-k right vectors by inner product. Measured on the same windows, with the same thread
count pinned on every side (OpenMP, OpenBLAS and FAISS):

- ``join_vectors_per_s``: ``sage_client.flow.knn_join`` (the native core; exact);
- ``numpy_join_vectors_per_s``: what a numpy user writes: ``S = A @ B.T``, ``argpartition``,
  then ordering the k winners;
- ``faiss_join_vectors_per_s``: faiss-cpu ``IndexFlatIP`` built on each right window, searched
  with the left window;
- ``hnsw_join_vectors_per_s`` / ``hnsw_recall``: the index-backed join (graph build + search), one
  left window against four right windows, beside the exact join on the same case;
- ``pipeline_vectors_per_s``: the whole flow on the DataStream runtime (records, event-time
  windows, the join, JoinMatch outputs), on fewer windows.

"vectors" counts both streams' vectors per second. Each figure is the best of ``--repeat``
passes over all windows (the machine may be shared). The last stdout line is one JSON object.

    python bench/flow.py --quick     # about a minute
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _pin_threads(threads: int) -> None:
    # Before numpy / faiss load their BLAS and OpenMP runtimes.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a minute")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="threads on every side (all cores)"
    )
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)  # inner run
    parser.add_argument("--window", type=int, default=2048, help="vectors per stream per window")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=0, help="passes per method (best kept)")
    args = parser.parse_args()
    _pin_threads(args.threads)

    import numpy as np

    from sage_client.flow import kernels

    dim, k, w = 384, args.k, args.window
    windows = 6 if args.quick else 24
    repeat = args.repeat or (3 if args.quick else 5)
    rng = np.random.default_rng(11)
    centers = rng.standard_normal((64, dim)).astype(np.float32)

    def stream(n: int) -> np.ndarray:
        x = centers[rng.integers(0, len(centers), n)] + 0.6 * rng.standard_normal((n, dim))
        x = x.astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    left, right = stream(windows * w), stream(windows * w)
    pairs = [(left[i * w : (i + 1) * w], right[i * w : (i + 1) * w]) for i in range(windows)]
    n_vectors = 2 * windows * w

    def ours(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return kernels.knn_join(a, b, k, "ip", args.threads)[0]

    def numpy_join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        s = a @ b.T
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(s, top, axis=1), axis=1)
        return np.take_along_axis(top, order, axis=1)

    methods = {"sage_flow": ours, "numpy": numpy_join}
    faiss_version = None
    try:
        import faiss

        faiss.omp_set_num_threads(args.threads)
        faiss_version = faiss.__version__

        def faiss_join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            index = faiss.IndexFlatIP(dim)
            index.add(b)
            return index.search(a, k)[1]

        methods["faiss"] = faiss_join
    except ImportError:
        print(
            "faiss-cpu not installed (pip install -e '.[bench]'): no FAISS figure", file=sys.stderr
        )

    best = {name: float("inf") for name in methods}
    results: dict[str, list[np.ndarray]] = {}
    for _ in range(repeat):
        for name, fn in methods.items():  # interleaved, so drift in machine load hits all sides
            start = time.perf_counter()
            out = [fn(a, b) for a, b in pairs]
            best[name] = min(best[name], time.perf_counter() - start)
            results[name] = out

    def agreement(name: str) -> float:
        hits = total = 0
        for mine, ref in zip(results["sage_flow"], results[name], strict=True):
            for row_m, row_r in zip(mine, ref, strict=True):
                hits += len(set(row_m.tolist()) & set(row_r.tolist()))
                total += k
        return round(hits / total, 5)

    fig = {
        "bench": "flow",
        "n": n_vectors,
        "quick": args.quick,
        "dim": dim,
        "window": w,
        "windows": windows,
        "k": k,
        "threads": args.threads,
        "isa": kernels.isa(),
        "faiss_version": faiss_version,
        "join_vectors_per_s": round(n_vectors / best["sage_flow"]),
        "numpy_join_vectors_per_s": round(n_vectors / best["numpy"]),
        "faiss_join_vectors_per_s": round(n_vectors / best["faiss"]) if "faiss" in best else None,
        "agreement_with_numpy": agreement("numpy"),
        "agreement_with_faiss": agreement("faiss") if "faiss" in best else None,
    }
    fig["vs_numpy"] = round(fig["join_vectors_per_s"] / fig["numpy_join_vectors_per_s"], 2)
    if fig["faiss_join_vectors_per_s"]:
        fig["vs_faiss"] = round(fig["join_vectors_per_s"] / fig["faiss_join_vectors_per_s"], 2)
    if args.single:
        print(json.dumps(fig))
        return

    # The index-backed join where an index pays: one left window against a right side four
    # windows long (a sliding window of 4); index build + search, recall against the exact join.
    big = right[: 4 * w] if len(right) >= 4 * w else right
    spec = {"M": 16, "ef_construction": 100, "ef_search": 64}
    start = time.perf_counter()
    hnsw = kernels.index_join(left[:w], big, k, "ip", spec, args.threads)[0]
    hnsw_s = time.perf_counter() - start
    start = time.perf_counter()
    exact = kernels.knn_join(left[:w], big, k, "ip", args.threads)[0]
    exact_s = time.perf_counter() - start
    recall = np.mean(
        [len(set(h) & set(e)) / k for h, e in zip(hnsw.tolist(), exact.tolist(), strict=True)]
    )

    _pipeline(left, right, 64, k, args.threads, 1)  # warm-up: the runtime's first job starts slowly
    pipeline_rate = max(
        _pipeline(left, right, w, k, args.threads, min(windows, 2)) for _ in range(2)
    )

    fig["hnsw_join_vectors_per_s"] = round((w + len(big)) / hnsw_s)
    fig["hnsw_case_exact_join_vectors_per_s"] = round((w + len(big)) / exact_s)
    fig["hnsw_recall"] = round(float(recall), 4)
    fig["pipeline_vectors_per_s"] = round(pipeline_rate)
    if args.threads > 1:  # the same comparison on one thread, in a process pinned to one
        cmd = [sys.executable, __file__, "--single", "--threads", "1", "--window", str(w)]
        cmd += ["--k", str(k)] + (["--quick"] if args.quick else [])
        one = json.loads(
            subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1]
        )
        keys = (
            "join_vectors_per_s",
            "numpy_join_vectors_per_s",
            "faiss_join_vectors_per_s",
            "vs_numpy",
            "vs_faiss",
        )
        fig["threads_1"] = {key: one.get(key) for key in keys}
    fig["targets"] = {"vs_numpy": 3.0, "vs_faiss": 1.0}
    fig["targets_met"] = fig["vs_numpy"] >= 3.0 and fig.get("vs_faiss", 0.0) >= 1.0
    print(json.dumps(fig))


def _pipeline(left, right, w: int, k: int, threads: int, windows: int) -> float:  # noqa: ANN001
    """The same join through the DataStream runtime: VectorRecords, event-time windows of one
    time unit holding ``w`` records per stream, JoinMatch outputs counted by a sink."""
    from sage_client import LocalEnvironment
    from sage_client.dataflow.api.windows import TumblingWindow
    from sage_client.flow import VectorRecord, similarity_join

    n = windows * w
    lrec = [VectorRecord(f"l{i}", i / w, left[i]) for i in range(n)]
    rrec = [VectorRecord(f"r{i}", i / w, right[i]) for i in range(n)]
    count = [0]

    def sink(_match: object) -> None:
        count[0] += 1

    env = LocalEnvironment("bench-flow")
    matches = similarity_join(
        env.from_batch(lrec),
        env.from_batch(rrec),
        TumblingWindow(1.0),
        k=k,
        metric="ip",
        threads=threads,
    )
    matches.sink(sink)
    start = time.perf_counter()
    env.submit(autostop=True)
    elapsed = time.perf_counter() - start
    env.close()
    assert count[0] == n * k, (count[0], n * k)
    return 2 * n / elapsed


if __name__ == "__main__":
    main()
