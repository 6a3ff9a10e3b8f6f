"""TSDB benchmark: the TSDB service (gRPC, durable batched writes) against InfluxDB 1.x (Debian's
influxd on loopback, line protocol over HTTP) and DuckDB (in-process), on the same data.

    python bench/tsdb.py [--quick]

Measures ingest_points_per_s (5000-point batches, DURABILITY_SYNC), agg_ms (a 1-minute tumbling
AVG over all n points, through the service), ooo_join_pairs_per_s (n events through the
StreamJoin RPC; the pair count is checked against a reference band join, no event late; the
native join in-process as ooo_join_native_pairs_per_s and the DataStream operator,
source to sink, as ooo_join_dataflow_pairs_per_s),
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


def bench_service(
    ts: np.ndarray, vals: np.ndarray, run_dir: Path, join: tuple[list, int]
) -> dict[str, float]:
    from sage_client.tsdb import TSDBClient, series_batch
    from tests.conftest import spawn_service

    service = spawn_service(
        run_dir,
        "tsdb-bench",
        "sage_tsdb",
        max_write_points=BATCH * 4,
        max_join_events=JOIN_CHUNK,
    )
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
        join_rate = bench_join_service(service.address, *join)
    finally:
        service.proc.stop(grace=5)
    return {
        "ingest_points_per_s": ingest,
        "agg_ms": agg_ms,
        "first_window_avg": check,
        "ooo_join_pairs_per_s": join_rate,
    }


JOIN_WINDOW, JOIN_DELAY, JOIN_CHUNK = 100, 6000, 1000


def join_events(n: int) -> tuple[list[tuple[str, np.ndarray, list[str], np.ndarray]], int]:
    """n events of 20 keys, one every 5 ms with up to 200 ms of jitter, sent JOIN_CHUNK at a
    time (each chunk's left events, then its right ones: the chunk's 5 s span plus the jitter
    stay within JOIN_DELAY, so no event is late). Returns the side batches and the number of
    pairs a band join by key within JOIN_WINDOW gives."""
    rng = np.random.default_rng(1)
    ts = np.arange(n, dtype=np.int64) * 5 + T0 + rng.integers(0, 200, size=n)
    key_ids = rng.integers(0, 20, size=n)
    keys = np.array([f"k{k}" for k in range(20)], dtype=object)[key_ids]
    left = rng.integers(0, 2, size=n) == 0
    chunks = []
    for i in range(0, n, JOIN_CHUNK):
        sl = slice(i, i + JOIN_CHUNK)
        for side, mask in (("left", left[sl]), ("right", ~left[sl])):
            chunks.append((side, ts[sl][mask], keys[sl][mask].tolist(), ts[sl][mask] * 1.0))
    expected = 0  # the reference: per key, the right events within the window of each left one
    for k in range(20):
        lt = np.sort(ts[left & (key_ids == k)])
        rt = np.sort(ts[~left & (key_ids == k)])
        hi = np.searchsorted(rt, lt + JOIN_WINDOW, side="right")
        expected += int((hi - np.searchsorted(rt, lt - JOIN_WINDOW, side="left")).sum())
    return chunks, expected


def bench_join_native(chunks: list, expected: int) -> float:
    """The native join in-process (what the service and the DataStream operator run)."""
    from sage_native import StreamJoin

    join = StreamJoin(window_size=JOIN_WINDOW, max_delay=JOIN_DELAY)
    pairs = late = 0
    t = time.perf_counter()
    for side, t_s, k, v in chunks:
        out = join.push_batch(side, t_s, k, v)
        pairs += len(out["key"])
        late += out["late"]
    pairs += len(join.flush()["key"])
    elapsed = time.perf_counter() - t
    _check_join("native", pairs, late, expected)
    return pairs / elapsed


def bench_join_service(address: str, chunks: list, expected: int) -> float:
    """The StreamJoin RPC: one bidirectional stream, the pairs counted as they come back."""
    from sage_client.tsdb import JoinBatch, TSDBClient

    batches = [JoinBatch(side, t_s, k, v) for side, t_s, k, v in chunks]
    with TSDBClient(address=address, timeout=300) as tsdb:
        pairs = late = 0
        t = time.perf_counter()
        for reply in tsdb.stream_join(batches, window_size_ms=JOIN_WINDOW, max_delay_ms=JOIN_DELAY):
            pairs += len(reply)
            late = reply.late_events
        elapsed = time.perf_counter() - t
    _check_join("StreamJoin RPC", pairs, late, expected)
    return pairs / elapsed


def bench_join_dataflow(chunks: list, expected: int) -> float:
    """The DataStream operator (tsdb_join_events) in a LocalEnvironment over the same events
    as records, from the source to the sink (after a warm-up job on the first 2000)."""
    records = [
        {"timestamp": t, "key": k, "side": side}
        for side, t_s, keys, _ in chunks
        for t, k in zip(t_s.tolist(), keys, strict=True)
    ]
    _dataflow_join(records[:2000])
    pairs, late, elapsed = _dataflow_join(records)
    _check_join("DataStream operator", pairs, late, expected)
    return pairs / elapsed


def _dataflow_join(records: list[dict]) -> tuple[int, int, float]:
    from sage_client import LocalEnvironment
    from sage_client.tsdb_api import JoinConfig
    from sage_client.tsdb_stream import tsdb_join_events

    env = LocalEnvironment("bench-tsdb-join")
    pairs, late = _Count(), _Count()
    joined = tsdb_join_events(
        env.from_collection(records),
        JoinConfig(window_size=JOIN_WINDOW, max_delay=JOIN_DELAY),
        side=_side,
        key=_key,
    )
    joined.sink(pairs)
    joined.late_records().sink(late)
    t = time.perf_counter()
    env.submit(autostop=True)
    return pairs.n, late.n, time.perf_counter() - t


class _Count:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, record: object) -> None:
        self.n += 1


def _side(record: dict) -> str:
    return record["side"]


def _key(record: dict) -> str:
    return record["key"]


def _check_join(where: str, pairs: int, late: int, expected: int) -> None:
    if late or pairs != expected:
        raise SystemExit(f"{where}: {pairs} pairs and {late} late events; expected {expected}, 0")


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
    chunks, expected = join_events(n)
    svc = bench_service(ts, vals, run_dir, (chunks, expected))
    result.update(svc)
    print(f"service: {svc}", file=sys.stderr)
    result["ooo_join_events"] = n
    result["ooo_join_pairs"] = expected  # verified: both joins return exactly these
    result["ooo_join_native_pairs_per_s"] = bench_join_native(chunks, expected)
    result["ooo_join_dataflow_pairs_per_s"] = bench_join_dataflow(chunks, expected)
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
