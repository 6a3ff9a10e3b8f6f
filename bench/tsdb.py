"""TSDB benchmark: the TSDB service (gRPC, durable batched writes) against InfluxDB 1.x (Debian's
influxd on loopback, line protocol over HTTP) and DuckDB (in-process), on the same data.

    python bench/tsdb.py [--quick]

Measures ingest_points_per_s (5000-point batches, DURABILITY_SYNC), agg_ms (a 1-minute tumbling
AVG over all n points, through the service), ooo_join_pairs_per_s (the native out-of-order join),
duckdb_agg_ms (time_bucket GROUP BY) and influxdb_ingest_points_per_s / influxdb_agg_ms
(GROUP BY time(1m) bounded by the data's range). The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 5000
T0 = 1_700_000_000_000  # ms


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1000


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    ts = T0 + np.arange(n, dtype=np.int64) * 100  # 10 points/s: 600 per minute
    return ts, np.random.default_rng(0).normal(size=n)


def bench_service(ts: np.ndarray, vals: np.ndarray, run_dir: Path) -> dict[str, float]:
    from sage_client.tsdb import TSDBClient, series_batch
    from tests.conftest import spawn_service

    service = spawn_service(run_dir, "tsdb-bench", "sage_tsdb", max_write_points=BATCH * 4)
    try:
        with TSDBClient(address=service.address, timeout=120) as tsdb:
            batches = [
                series_batch("cpu", ts[i : i + BATCH], vals[i : i + BATCH], tags={"host": "a"})
                for i in range(0, len(ts), BATCH)
            ]
            t = time.perf_counter()
            for b in batches:
                tsdb.write([b], durability="sync")
            ingest = len(ts) / (time.perf_counter() - t)
            agg_ms = _best(lambda: tsdb.window_aggregate("cpu", window_size_ms=60_000), 5)
            [g] = tsdb.window_aggregate("cpu", window_size_ms=60_000)
            check = float(g.values[0])
    finally:
        service.proc.stop(grace=5)
    return {"ingest_points_per_s": ingest, "agg_ms": agg_ms, "first_window_avg": check}


def bench_join(n: int) -> tuple[float, int]:
    """2n events (one every 5 ms, 20 keys, up to 200 ms of disorder) pushed 50 at a time,
    split by side; every event is on time (max_delay 500 ms), pairs within 100 ms."""
    from sage_native import StreamJoin

    rng = np.random.default_rng(1)
    ts = np.arange(2 * n, dtype=np.int64) * 5 + rng.integers(0, 200, size=2 * n)
    keys = np.array([f"k{k}" for k in range(20)], dtype=object)[rng.integers(0, 20, size=2 * n)]
    left = rng.integers(0, 2, size=2 * n) == 0
    chunks = []
    for i in range(0, 2 * n, 50):
        sl = slice(i, i + 50)
        for side, mask in (("left", left[sl]), ("right", ~left[sl])):
            chunks.append((side, ts[sl][mask], keys[sl][mask].tolist(), ts[sl][mask] * 1.0))
    join = StreamJoin(window_size=100, max_delay=500)
    pairs = late = 0
    t = time.perf_counter()
    for side, t_s, k, v in chunks:
        out = join.push_batch(side, t_s, k, v)
        pairs += len(out["key"])
        late += out["late"]
    pairs += len(join.flush()["key"])
    return pairs / (time.perf_counter() - t), late


def bench_duckdb(ts: np.ndarray, vals: np.ndarray) -> float | None:
    try:
        import duckdb
    except ImportError:
        return None
    con = duckdb.connect()
    ts_arr = ts.astype("datetime64[ms]")
    con.execute(
        "CREATE TABLE cpu AS SELECT * FROM (SELECT unnest($1) AS ts, unnest($2) AS v)",
        [ts_arr, vals],
    )
    q = "SELECT time_bucket(INTERVAL '1 minute', ts) AS b, avg(v) FROM cpu GROUP BY b ORDER BY b"
    con.execute(q).fetchall()
    return _best(lambda: con.execute(q).fetchall(), 5)


def bench_influx(ts: np.ndarray, vals: np.ndarray) -> dict[str, float] | None:
    influxd = shutil.which("influxd")
    if influxd is None:
        return None
    tmp = Path(tempfile.mkdtemp(prefix="bench-influx-"))
    http, rpc = _free_port(), _free_port()
    conf = tmp / "influxdb.conf"
    conf.write_text(
        f'reporting-disabled = true\nbind-address = "127.0.0.1:{rpc}"\n'
        f'[meta]\n  dir = "{tmp}/meta"\n'
        f'[data]\n  dir = "{tmp}/data"\n  wal-dir = "{tmp}/wal"\n  query-log-enabled = false\n'
        f'[http]\n  bind-address = "127.0.0.1:{http}"\n  log-enabled = false\n'
        "[monitor]\n  store-enabled = false\n"
    )
    proc = subprocess.Popen(
        [influxd, "-config", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{http}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/ping", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        urllib.request.urlopen(
            f"{base}/query", data=urllib.parse.urlencode({"q": "CREATE DATABASE b"}).encode()
        )
        bodies = [
            "\n".join(
                f"cpu,host=a value={v!r} {t}"
                for t, v in zip(
                    ts[i : i + BATCH].tolist(), vals[i : i + BATCH].tolist(), strict=True
                )
            ).encode()
            for i in range(0, len(ts), BATCH)
        ]
        t = time.perf_counter()
        for body in bodies:
            urllib.request.urlopen(f"{base}/write?db=b&precision=ms", data=body, timeout=60)
        ingest = len(ts) / (time.perf_counter() - t)
        q = (
            f"SELECT mean(value) FROM cpu WHERE time >= {int(ts[0])}ms AND time <= {int(ts[-1])}ms "
            "GROUP BY time(1m)"
        )
        url = f"{base}/query?" + urllib.parse.urlencode({"db": "b", "q": q})
        urllib.request.urlopen(url, timeout=120).read()
        agg = _best(lambda: urllib.request.urlopen(url, timeout=120).read(), 3)
        return {"influxdb_ingest_points_per_s": ingest, "influxdb_agg_ms": agg}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("-n", type=int, default=0)
    args = parser.parse_args()
    n = args.n or (300_000 if args.quick else 1_000_000)
    os.environ.setdefault("SAGE_PRINCIPAL", "admin")
    ts, vals = data(n)
    run_dir = Path(tempfile.mkdtemp(prefix="bench-tsdb-"))
    from sage_deploy.secrets import ensure_mesh_secrets

    os.environ.setdefault("SAGE_SECRETS_FILE", str(ensure_mesh_secrets(str(run_dir / "secrets"))))
    result: dict[str, object] = {"bench": "tsdb", "n": n, "quick": args.quick, "batch": BATCH}
    svc = bench_service(ts, vals, run_dir)
    result.update(svc)
    print(f"service: {svc}", file=sys.stderr)
    result["ooo_join_pairs_per_s"], result["ooo_join_late_events"] = bench_join(n // 2)
    result["duckdb_agg_ms"] = bench_duckdb(ts, vals)
    influx = bench_influx(ts, vals)
    result.update(influx or {"influxdb_ingest_points_per_s": None, "influxdb_agg_ms": None})
    if influx:
        result["ingest_vs_influxdb"] = (
            svc["ingest_points_per_s"] / influx["influxdb_ingest_points_per_s"]
        )
        result["agg_vs_influxdb"] = svc["agg_ms"] / influx["influxdb_agg_ms"]
    if result["duckdb_agg_ms"]:
        result["agg_vs_duckdb"] = svc["agg_ms"] / float(result["duckdb_agg_ms"])  # type: ignore[arg-type]
    result.pop("first_window_avg", None)
    shutil.rmtree(run_dir, ignore_errors=True)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
