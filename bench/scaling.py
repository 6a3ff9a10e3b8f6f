#!/usr/bin/env python3
"""How the VDB and TSDB figures move with data size: the same benchmarks, run at several sizes.

    python bench/scaling.py            # TSDB at 10k, 100k, 1M points; VDB at 10k, 100k, 1M vectors
    python bench/scaling.py --quick    # TSDB at 10k, 100k; VDB at 2k, 8k, short phases
    python bench/scaling.py --tsdb 10000,100000 --vdb none

Each size is one run of the benchmark itself, in its own process, so every figure is taken
exactly as that benchmark documents it (its docstring says how, and how its peers are set up):

- ``bench/tsdb.py -n N``: ingest (5000-point durable batches), a 1-minute tumbling AVG over all
  N points, the out-of-order join; InfluxDB 1.6 and DuckDB on the same N points.
- ``bench/vdb_service.py --n N --no-peers --no-memory``: N x 384 clustered unit vectors, HNSW
  (M 16, ef_construction 200, ef_search 64): upsert rate, nq1 search qps/p50/p99 (16 in
  flight), h2load's nq1 qps, recall@10 against brute force, service RSS after the load, the
  reopen time after a restart, the in-process single-thread ceiling. milvus-lite and ChromaDB
  are left out here (``bench/vdb_service.py`` measures them beside the service at its size).

With ``--quick`` the children run with ``--quick`` too (shorter timing phases), so quick and
full runs measure the same figures at smaller sizes. Last stdout line: one JSON object,
``{"tsdb": {"10000": {...}, ...}, "vdb": {...}, "n": {...}, "quick": ...}``; a size whose run
failed has ``{"error": ...}`` instead of figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
TSDB_KEYS = (
    "ingest_points_per_s",
    "agg_ms",
    "ooo_join_pairs_per_s",
    "influxdb_ingest_points_per_s",
    "influxdb_agg_ms",
    "duckdb_agg_ms",
)
VDB_KEYS = (
    "upsert_vectors_per_s",
    "qps_nq1",
    "p50_ms_nq1",
    "p99_ms_nq1",
    "h2load_qps_nq1",
    "recall_at_10",
    "service_rss_mb",
    "reopen_s",
    "inproc_qps_1_thread",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sizes(text: str) -> list[int]:
    if text.strip() == "none":
        return []  # leave this benchmark out
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        msg = f"sizes are integers separated by commas: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if any(v < 1000 for v in values):
        raise argparse.ArgumentTypeError(f"every size must be at least 1000: {text!r}")
    return values


def run_one(script: str, args: list[str], keys: tuple[str, ...]) -> dict[str, Any]:
    """One benchmark run; the figures named by ``keys`` from its last stdout line."""
    began = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=3 * 3600,
        check=False,
    )
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-5:]
        return {"error": f"{script} {' '.join(args)} exited {out.returncode}: {' | '.join(tail)}"}
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    picked = {key: figures.get(key) for key in keys}
    picked["seconds"] = round(time.perf_counter() - began, 1)
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, short phases")
    parser.add_argument(
        "--tsdb", type=sizes, help="TSDB sizes in points (comma-separated; none: leave it out)"
    )
    parser.add_argument(
        "--vdb", type=sizes, help="VDB sizes in vectors (comma-separated; none: leave it out)"
    )
    args = parser.parse_args()
    tsdb_sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    vdb_sizes = [2_000, 8_000] if args.quick else [10_000, 100_000, 1_000_000]
    tsdb_sizes = tsdb_sizes if args.tsdb is None else args.tsdb
    vdb_sizes = vdb_sizes if args.vdb is None else args.vdb
    quick = ["--quick"] if args.quick else []
    result: dict[str, Any] = {"tsdb": {}, "vdb": {}}
    for n in tsdb_sizes:
        log(f"tsdb at {n} points")
        result["tsdb"][str(n)] = run_one("tsdb.py", [*quick, "-n", str(n)], TSDB_KEYS)
        log(f"  {result['tsdb'][str(n)]}")
    for n in vdb_sizes:
        log(f"vdb at {n} vectors")
        args_n = [*quick, "--n", str(n), "--no-peers", "--no-memory"]
        result["vdb"][str(n)] = run_one("vdb_service.py", args_n, VDB_KEYS)
        log(f"  {result['vdb'][str(n)]}")
    result.update(
        {
            "bench": "scaling",
            "n": {"tsdb": tsdb_sizes, "vdb": vdb_sizes},
            "quick": args.quick,
        }
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
