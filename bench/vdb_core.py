"""Benchmark of the native vector-store core against FAISS (faiss-cpu), usearch and ChromaDB.

Everything runs in one process, on two data sets:
- ``synthetic``: N x 128 float32 vectors from Gaussian clusters, queries from the same law;
- ``real``: 384-d all-MiniLM-L6-v2 embeddings (the model the mesh ships) of docstrings of the
  Python packages installed on this machine (modules, classes, functions; at least 80 characters,
  deduplicated), queries are held-out docstrings. Figures on it carry the ``real_`` prefix.
Ground truth is exact search (numpy, float64).

How each side is set up (the like-for-like peers of an HNSW graph walked on 8-bit codes and
re-scored from the float vectors, which is what sage_native's HNSW is):
- sage_native: HNSW M=16, ef_construction=200, ef_search=64, 8-bit walk codes.
- ``faiss_hnswsq``: ``IndexRefineFlat(IndexHNSWSQ(QT_8bit, M=16))``, k_factor 4, ef_construction
  200; its ``efSearch`` is swept upwards until its recall@10 reaches ours, and the figure at the
  first ef that does is ``faiss_hnswsq_qps_1_matched`` (``_ef_matched`` says which ef).
- ``usearch_i8``: usearch ``Index(dtype="i8", connectivity=16, expansion_add=200)``, its
  ``expansion_search`` swept the same way (``usearch_i8_qps_1_matched``).
- ``faiss_hnsw``: ``IndexHNSWFlat`` at efSearch 64 (as before) and matched.
- filtered: sage_native ``where u < S`` against faiss ``IndexHNSWFlat`` searched with
  ``SearchParametersHNSW(sel=IDSelectorBitmap)`` at the same ef, at 1%, 10%, 50% and 90% of the
  rows allowed; recall against exact filtered neighbours is reported (and gated) on both sides.
- Threads are pinned: one-query figures run one thread on every side
  (``faiss.omp_set_num_threads(1)``, OMP_NUM_THREADS=1 for the core); the batch figures
  (100 queries a call) run ``batch_threads`` threads on both sides.
- Every QPS is the best of ``rounds`` interleaved timing windows of at least ``window_s``
  seconds (the query set repeats inside a window); recall is scored on one full pass.

    python bench/vdb_core.py            # 100k synthetic, 50k real vectors
    python bench/vdb_core.py --quick    # 10k synthetic, 2k real, about a minute

The real vectors are cached under ~/.cache/sage-mesh-bench/ (keyed by the exact text list), so
only the first run pays for embedding them. usearch's ``i8`` quantizes each component to
[-1, 1]: on the synthetic set (components well outside that range) its recall stays low at every
``expansion_search``; ``usearch_i8_recall_matched`` says what it reached.

The last stdout line is one JSON object with every figure.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # pin the core's OpenMP before it loads

import argparse  # noqa: E402
import ast  # noqa: E402
import ctypes  # noqa: E402
import hashlib  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import sysconfig  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import sage_native  # noqa: E402

DIM = 128
K = 10
HNSW_M = 16
EF_CONSTRUCTION = 200
EF_SEARCH = 64
SWEEP = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
SELECTIVITIES = (1, 10, 50, 90)  # percent of rows a filter allows
BATCH = 100
BATCH_THREADS = os.cpu_count() or 1
_SWIG_KEEP: list[object] = []


def core_threads(n: int) -> None:
    """The native core's OpenMP team size (it links the system libgomp; faiss-cpu bundles its
    own, set through ``faiss.omp_set_num_threads``)."""
    ctypes.CDLL("libgomp.so.1").omp_set_num_threads(n)


@dataclass
class Dataset:
    name: str
    vectors: np.ndarray
    queries: np.ndarray
    u: np.ndarray  # per-row uniform 0..99: `u < S` allows S% of the rows
    truth: np.ndarray  # (nq, K) exact neighbours
    filtered_truth: dict[int, np.ndarray]  # selectivity -> (nq, K) exact allowed neighbours

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def clustered(n: int, nq: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.0, (max(16, n // 1000), DIM)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        which = rng.integers(0, len(centers), count)
        return (centers[which] + rng.normal(0.0, 0.35, (count, DIM))).astype(np.float32)

    return draw(n), draw(nq)


def docstrings(limit: int) -> list[str]:
    """Distinct docstrings (>= 80 characters) of the installed packages, in a fixed order."""
    roots = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    seen: set[str] = set()
    out: list[str] = []

    def files() -> Iterator[Path]:
        for root in roots:
            yield from sorted(Path(root).rglob("*.py"))

    for path in files():
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except (SyntaxError, ValueError, OSError, RecursionError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= 80:
                    text = " ".join(doc.split())[:1000]
                    if text not in seen:
                        seen.add(text)
                        out.append(text)
                        if len(out) >= limit:
                            return out
    return out


def real_embeddings(n: int, nq: int) -> tuple[np.ndarray, np.ndarray]:
    from sage_client.llm import EmbeddingClient

    texts = docstrings(n + nq)
    if len(texts) < n + nq:
        raise SystemExit(f"only {len(texts)} docstrings on this machine; ask for fewer (--real)")
    order = np.random.default_rng(11).permutation(len(texts))
    texts = [texts[i] for i in order]
    # Embedding is not what is measured: keep the vectors of this exact text list for later runs.
    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]
    cache = Path.home() / ".cache" / "sage-mesh-bench" / f"docstrings-{len(texts)}-{digest}.npy"
    if cache.exists():
        vectors = np.load(cache)
    else:
        embedder = EmbeddingClient()
        t0 = time.perf_counter()
        vectors = np.concatenate(
            [embedder.embed(texts[s : s + 256]) for s in range(0, len(texts), 256)]
        )
        took = time.perf_counter() - t0
        print(f"embedded {len(texts)} docstrings in {took:.0f} s", file=sys.stderr)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    return np.ascontiguousarray(vectors[:n]), np.ascontiguousarray(vectors[n:])


def exact_topk(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    base64 = base.astype(np.float64)
    base_sq = (base64**2).sum(1)
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 256):
        q = queries[start : start + 256].astype(np.float64)
        d = base_sq[None, :] - 2.0 * q @ base64.T
        idx = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, idx, 1).argsort(1)
        out[start : start + 256] = np.take_along_axis(idx, order, 1)
    return out


def make_dataset(name: str, vectors: np.ndarray, queries: np.ndarray) -> Dataset:
    u = np.random.default_rng(3).integers(0, 100, len(vectors))
    filtered = {}
    for s in SELECTIVITIES:
        keep = np.flatnonzero(u < s)
        filtered[s] = keep[exact_topk(vectors[keep], queries, K)]
    return Dataset(name, vectors, queries, u, exact_topk(vectors, queries, K), filtered)


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    hits = sum(len(set(f[:K]) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


@dataclass
class Workload:
    """A timed query loop: ``run`` answers a (1 or BATCH) x dim block of queries."""

    name: str
    queries: np.ndarray
    truth: np.ndarray
    run: Callable[[np.ndarray], list[list[int]]]
    batched: bool = False

    def score(self) -> float:
        step = BATCH if self.batched else 1
        found: list[list[int]] = []
        for s in range(0, len(self.queries), step):
            found += self.run(self.queries[s : s + step])
        return recall(found, self.truth)

    def qps(self, window_s: float) -> float:
        step = BATCH if self.batched else 1
        done, start = 0, time.perf_counter()
        while True:
            for s in range(0, len(self.queries), step):
                block = self.queries[s : s + step]
                self.run(block)
                done += len(block)
            elapsed = time.perf_counter() - start
            if elapsed >= window_s:
                return done / elapsed


def measure(workloads: list[Workload], rounds: int, window_s: float) -> dict[str, float]:
    """Best QPS of ``rounds`` interleaved windows per workload (every system timed in every
    round, so a noisy neighbour hits all of them), and recall from one pass."""
    out: dict[str, float] = {}
    for w in workloads:
        out[f"{w.name}_recall_at_10"] = w.score()
    for _ in range(rounds):
        for w in workloads:
            out[f"{w.name}_qps"] = max(out.get(f"{w.name}_qps", 0.0), w.qps(window_s))
    return out


def ids_of(hits: dict) -> list[list[int]]:
    return [[int(i) for i in row if i] for row in hits["ids"]]


class Sage:
    def __init__(self, ds: Dataset, root: str) -> None:
        ids = [str(i) for i in range(len(ds.vectors))]
        metadatas = [{"u": int(x)} for x in ds.u]
        self.flat = sage_native.Collection.create(
            f"{root}/{ds.name}-flat", ds.dim, metric="l2", index={"type": "flat"}, fsync="none"
        )
        self.flat.upsert(ids, ds.vectors)
        index = {
            "type": "hnsw",
            "M": HNSW_M,
            "ef_construction": EF_CONSTRUCTION,
            "ef_search": EF_SEARCH,
        }
        self.hnsw = sage_native.Collection.create(
            f"{root}/{ds.name}-hnsw", ds.dim, metric="l2", index=index, fsync="none"
        )
        start = time.perf_counter()
        for s in range(0, len(ids), 10_000):
            e = s + 10_000
            self.hnsw.upsert(ids[s:e], ds.vectors[s:e], metadatas=metadatas[s:e])
        self.build_s = time.perf_counter() - start

    def search(self, col, where: dict | None = None) -> Callable[[np.ndarray], list[list[int]]]:  # type: ignore[no-untyped-def]
        return lambda q: ids_of(col.search(q, K, where=where, include=[]))


def faiss_matched(build, target: float, ds: Dataset) -> tuple[int, Callable, float]:  # type: ignore[no-untyped-def]
    """The first ef of SWEEP at which ``build(ef)``'s recall reaches ``target``."""
    for ef in SWEEP:
        run = build(ef)
        w = Workload("sweep", ds.queries, ds.truth, run)
        r = w.score()
        if r >= target or ef == SWEEP[-1]:
            return ef, run, r
    raise AssertionError("unreachable")


def peers(ds: Dataset, target: float, n_flat: int) -> tuple[list[Workload], dict[str, object]]:
    import faiss

    faiss.omp_set_num_threads(1)
    info: dict[str, object] = {}
    hnsw = faiss.IndexHNSWFlat(ds.dim, HNSW_M)
    hnsw.hnsw.efConstruction = EF_CONSTRUCTION
    start = time.perf_counter()
    hnsw.add(ds.vectors)
    info["faiss_hnsw_build_s"] = time.perf_counter() - start
    base = faiss.IndexHNSWSQ(ds.dim, faiss.ScalarQuantizer.QT_8bit, HNSW_M)
    base.hnsw.efConstruction = EF_CONSTRUCTION
    hnswsq = faiss.IndexRefineFlat(base)
    hnswsq.k_factor = 4
    start = time.perf_counter()
    hnswsq.train(ds.vectors)
    hnswsq.add(ds.vectors)
    info["faiss_hnswsq_build_s"] = time.perf_counter() - start
    flat = faiss.IndexFlatL2(ds.dim)
    flat.add(ds.vectors)

    def on_hnsw(ef: int) -> Callable[[np.ndarray], list[list[int]]]:
        params = faiss.SearchParametersHNSW(efSearch=ef)
        return lambda q: hnsw.search(q, K, params=params)[1].tolist()

    def on_hnswsq(ef: int) -> Callable[[np.ndarray], list[list[int]]]:
        def run(q: np.ndarray) -> list[list[int]]:
            base.hnsw.efSearch = ef
            return hnswsq.search(q, K)[1].tolist()

        return run

    workloads = [
        Workload("faiss_hnsw", ds.queries, ds.truth, on_hnsw(EF_SEARCH)),
        Workload(
            "faiss_flat",
            ds.queries[:n_flat],
            ds.truth[:n_flat],
            lambda q: flat.search(q, K)[1].tolist(),
        ),
    ]
    matched: dict[str, Callable[[np.ndarray], list[list[int]]]] = {}
    for name, build in (("faiss_hnsw", on_hnsw), ("faiss_hnswsq", on_hnswsq)):
        ef, run, _ = faiss_matched(build, target, ds)
        info[f"{name}_ef_matched"] = ef
        matched[name] = run
        workloads.append(Workload(f"{name}_matched", ds.queries, ds.truth, run))
    # Filtered: the HNSW graph searched with a bitmap selector, at the same ef as the core.
    for s in SELECTIVITIES:
        bitmap = np.packbits(ds.u < s, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(ds.u), faiss.swig_ptr(bitmap))
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=EF_SEARCH)
        _SWIG_KEEP.extend([bitmap, selector, params])  # SWIG would let them be freed
        run = (lambda p: lambda q: hnsw.search(q, K, params=p)[1].tolist())(params)
        workloads.append(Workload(f"faiss_filtered_{s}pct", ds.queries, ds.filtered_truth[s], run))

    def batched(q: np.ndarray) -> list[list[int]]:
        faiss.omp_set_num_threads(BATCH_THREADS)
        try:
            return matched["faiss_hnswsq"](q)
        finally:
            faiss.omp_set_num_threads(1)

    workloads.append(Workload("faiss_hnswsq_batch", ds.queries, ds.truth, batched, batched=True))
    try:
        import usearch.index as usearch_index

        index = usearch_index.Index(
            ndim=ds.dim,
            metric="l2sq",
            dtype="i8",
            connectivity=HNSW_M,
            expansion_add=EF_CONSTRUCTION,
        )
        start = time.perf_counter()
        index.add(np.arange(len(ds.vectors)), ds.vectors, threads=1)
        info["usearch_i8_build_s"] = time.perf_counter() - start

        def on_usearch(ef: int) -> Callable[[np.ndarray], list[list[int]]]:
            def run(q: np.ndarray) -> list[list[int]]:
                index.expansion_search = ef
                found = index.search(q, K, threads=1)
                keys = found.keys if q.shape[0] > 1 else found.keys[None, :]
                return np.asarray(keys).reshape(len(q), -1).tolist()

            return run

        ef, run, _ = faiss_matched(on_usearch, target, ds)
        info["usearch_i8_ef_matched"] = ef
        workloads.append(Workload("usearch_i8_matched", ds.queries, ds.truth, run))
    except ImportError:
        info["usearch_i8_matched_qps_1"] = None  # pip install usearch (the bench extra)
    return workloads, info


def chroma_workloads(ds: Dataset, root: str, n_filtered: int) -> tuple[list[Workload], dict]:
    import chromadb

    info: dict[str, float] = {}
    client = chromadb.PersistentClient(path=f"{root}/chroma-{ds.name}")
    col = client.create_collection(
        "bench",
        configuration={
            "hnsw": {
                "space": "l2",
                "max_neighbors": HNSW_M,
                "ef_construction": EF_CONSTRUCTION,
                "ef_search": EF_SEARCH,
            }
        },
    )
    ids = [str(i) for i in range(len(ds.vectors))]
    batch = min(5000, client.get_max_batch_size())
    start = time.perf_counter()
    for s in range(0, len(ids), batch):
        col.add(
            ids=ids[s : s + batch],
            embeddings=ds.vectors[s : s + batch],
            metadatas=[{"u": int(x)} for x in ds.u[s : s + batch]],
        )
    info["chroma_build_s"] = time.perf_counter() - start

    def query(where: dict | None) -> Callable[[np.ndarray], list[list[int]]]:
        def run(q: np.ndarray) -> list[list[int]]:
            res = col.query(query_embeddings=q, n_results=K, where=where, include=["distances"])
            return [[int(i) for i in row] for row in res["ids"]]

        return run

    return [
        Workload("chroma", ds.queries, ds.truth, query(None)),
        Workload(
            "chroma_filtered",
            ds.queries[:n_filtered],
            ds.filtered_truth[10][:n_filtered],
            query({"u": {"$lt": 10}}),
        ),
    ], info


def run_dataset(ds: Dataset, root: str, args: argparse.Namespace) -> dict[str, object]:
    n_slow = min(len(ds.queries), 200)  # exhaustive and ChromaDB queries are slow: fewer
    sage = Sage(ds, root)
    result: dict[str, object] = {"hnsw_build_s": sage.build_s}
    ours = [
        Workload("flat", ds.queries[:n_slow], ds.truth[:n_slow], sage.search(sage.flat)),
        Workload("hnsw", ds.queries, ds.truth, sage.search(sage.hnsw)),
    ]
    for s in SELECTIVITIES:
        run = sage.search(sage.hnsw, {"u": {"$lt": s}})
        ours.append(Workload(f"filtered_{s}pct", ds.queries, ds.filtered_truth[s], run))
    one_query = sage.search(sage.hnsw)

    def batched(q: np.ndarray) -> list[list[int]]:
        core_threads(BATCH_THREADS)
        try:
            return one_query(q)
        finally:
            core_threads(1)

    ours.append(Workload("hnsw_batch", ds.queries, ds.truth, batched, batched=True))
    target = Workload("hnsw", ds.queries, ds.truth, sage.search(sage.hnsw)).score()
    print(f"[{ds.name}] sage_native built; hnsw recall@10 {target:.3f}", file=sys.stderr)
    workloads = list(ours)
    more, info = peers(ds, target, n_slow)
    workloads += more
    result.update(info)
    print(f"[{ds.name}] peers built", file=sys.stderr)
    if not args.skip_chroma:
        more, info = chroma_workloads(ds, root, n_slow)
        workloads += more
        result.update(info)
    figures = measure(workloads, args.rounds, args.window)
    for name in (
        "flat",
        "hnsw",
        "faiss_hnsw",
        "faiss_flat",
        "chroma",
        "faiss_hnsw_matched",
        "faiss_hnswsq_matched",
        "usearch_i8_matched",
    ):
        if f"{name}_qps" in figures:
            base, _, tail = name.partition("_matched")
            key = f"{base}_qps_1_matched" if name.endswith("_matched") else f"{name}_qps_1"
            result[key] = figures.pop(f"{name}_qps")
            if name.endswith("_matched"):
                result[f"{base}_recall_matched"] = figures.pop(f"{name}_recall_at_10")
    figures["hnsw_qps_batch"] = figures.pop("hnsw_batch_qps")
    figures["faiss_hnswsq_qps_batch"] = figures.pop("faiss_hnswsq_batch_qps")
    # The 10% figure under its old names.
    figures["filtered_qps"] = figures["filtered_10pct_qps"]
    figures["filtered_recall_at_10"] = figures["filtered_10pct_recall_at_10"]
    result.update(figures)
    result["batch_threads"] = BATCH_THREADS
    return result


def targets(r: dict[str, object]) -> dict[str, bool]:
    def f(key: str) -> float:
        return float(r.get(key) or 0.0)  # type: ignore[arg-type]

    return {
        "hnsw_qps_1>=0.9*faiss_hnswsq_qps_1_matched": f("hnsw_qps_1")
        >= 0.9 * f("faiss_hnswsq_qps_1_matched"),
        "filtered_qps_10pct>=faiss_filtered_qps_10pct": f("filtered_10pct_qps")
        >= f("faiss_filtered_10pct_qps"),
        "filtered_recall_at_10>=0.95": all(
            f(f"filtered_{s}pct_recall_at_10") >= 0.95 for s in SELECTIVITIES
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10k + 2k vectors (about a minute)")
    parser.add_argument(
        "--n", type=int, default=None, help="synthetic vectors (100000; quick 10000)"
    )
    parser.add_argument("--real", type=int, default=None, help="real vectors (50000; quick 2000)")
    parser.add_argument("--queries", type=int, default=None, help="queries (1000; quick 200)")
    parser.add_argument("--skip-chroma", action="store_true", help="leave ChromaDB out")
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds (3; quick 2)")
    parser.add_argument("--window", type=float, default=1.0, help="seconds per timing window")
    args = parser.parse_args(argv)
    n = args.n or (10_000 if args.quick else 100_000)
    n_real = args.real if args.real is not None else (2_000 if args.quick else 50_000)
    nq = args.queries or (200 if args.quick else 1000)
    args.rounds = args.rounds or (2 if args.quick else 3)

    started = time.perf_counter()
    result: dict[str, object] = {
        "n": n,
        "n_real": n_real,
        "dim": DIM,
        "dim_real": 384,
        "queries": nq,
        "k": K,
        "quick": args.quick,
        "rounds": args.rounds,
        "window_s": args.window,
        "hnsw": {"M": HNSW_M, "ef_construction": EF_CONSTRUCTION, "ef_search": EF_SEARCH},
    }
    with tempfile.TemporaryDirectory() as root:
        vectors, queries = clustered(n, nq)
        print(f"synthetic: {n} x {DIM}, {nq} queries", file=sys.stderr)
        synthetic = run_dataset(make_dataset("synthetic", vectors, queries), root, args)
        result.update(synthetic)
        if n_real:
            vectors, queries = real_embeddings(n_real, nq)
            real = run_dataset(make_dataset("real", vectors, queries), root, args)
            result.update({f"real_{k}": v for k, v in real.items()})
            result["real_targets"] = targets(real)
    versions = {
        "sage_native": sage_native.__version__,
        "sage_native_faiss": sage_native.faiss_version,
        "numpy": np.__version__,
    }
    for dist in ("faiss-cpu", "usearch", "chromadb"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    result["versions"] = versions
    if "chroma_qps_1" in result:
        result["vs_chroma_qps_1"] = result["hnsw_qps_1"] / result["chroma_qps_1"]  # type: ignore[operator]
        result["vs_chroma_filtered_qps"] = result["filtered_qps"] / result["chroma_filtered_qps"]  # type: ignore[operator]
    result["vs_faiss_hnsw_qps_1"] = result["hnsw_qps_1"] / result["faiss_hnsw_qps_1"]  # type: ignore[operator]
    result["targets"] = targets(result)
    result["elapsed_s"] = time.perf_counter() - started
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
