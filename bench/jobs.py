"""Job-manager benchmark: small records map -> filter -> map (three per-record Python functions
on ints), submitted to a real job manager (auth on) on the local and the Ray executor, against
Ray Data doing the same in this run.

    python bench/jobs.py [--quick]   # full: 1M and 10M records; quick: 100k and 1M ("sizes")

What each side runs (Ray is started here with two CPUs; every Ray side may use both):
  - ours on Ray: two chain instances (one per CPU); ours local: one chain (one GIL).
  - ``ray_data_udf``: the apples-to-apples peer, the same three Python functions per record:
    ``ray.data.range(n).map(f).filter(g).map(h)``, rows consumed with ``iter_batches``.
  - ``ray_data``: what a Ray user would write for speed, one vectorised NumPy ``map_batches``.
Every time is end to end as a user sees it: from the submit call until the job's end (the
worker's start, its Ray connection and the start of its chain actors included; the kernel's
standby worker, pre-started and already connected, is used when there is one), or for Ray Data
from building the dataset until its last batch is consumed; best of the repeats after one
untimed warm-up of each contender. Each side is timed at two sizes; ``*_fixed_s`` and
``*_marginal_rps`` are the line through those two points (seconds at zero records, records/s
of each added record); ``*_rps`` figures are at the larger size (kept from the one-size
version: ``local_rps``, ``ray_rps``, ``ray_data_rps``).
``submit_to_first_record_s``: from the submit call until the first record's line printed by the
sink reaches the client (local executor, standby worker warm); ``cold_submit_to_first_record_s``
the same on a second kernel with ``SAGE_STANDBY_WORKERS=false`` (a worker process is started
for the job). The last stdout line is one JSON object. Target:
``ray_marginal_rps >= 0.8 x ray_data_udf_marginal_rps``. Needs ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)
import numpy as np
import ray

from sage_client import JobClient, LocalEnvironment, SinkFunction
from sage_deploy.processes import ManagedProcess
from sage_kernel import identity


# The three functions both of our executors run: map -> filter -> map on small ints.
def add_one(x: int) -> int:
    return x + 1


def not_multiple_of_three(x: int) -> bool:
    return x % 3 != 0


def double(x: int) -> int:
    return x * 2


class CountingSink(SinkFunction):
    """Prints FIRST on the first record (submit-to-first-record) and the count at the end."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = 0

    def execute(self, data: Any) -> None:
        if self.count == 0:
            print("FIRST", flush=True)
        self.count += 1

    def close(self) -> None:
        print(f"COUNT {self.count}", flush=True)


RAY_CPUS = 2


def expected_count(records: int) -> int:
    return sum(1 for x in range(records) if (x + 1) % 3 != 0)


def our_job(jobs: JobClient, records: int, executor: str, ray_address: str) -> tuple[float, float]:
    """(seconds from submit to end, seconds from submit to the first record at the sink)."""
    env = LocalEnvironment(f"bench-{executor}")
    # On Ray, one chain instance per CPU Ray was given (Ray Data spreads over them too); the
    # local executor's threads share one GIL, so one chain is its best.
    width = RAY_CPUS if executor == "ray" else 1
    (
        env.from_batch(range(records), parallelism=width)
        .map(add_one, parallelism=width)
        .filter(not_multiple_of_three, parallelism=width)
        .map(double, parallelism=width)
        .sink(CountingSink, parallelism=width)
    )
    start = time.perf_counter()
    handle = jobs.submit(env.graph, executor=executor, ray_address=ray_address)
    first = None
    count = 0
    for line in handle.logs(follow=True):
        if line == "FIRST" and first is None:
            first = time.perf_counter() - start
        elif line.startswith("COUNT "):
            count += int(line.split()[1])  # one line per sink instance
    elapsed = time.perf_counter() - start
    handle.wait()
    if count != expected_count(records):
        raise SystemExit(
            f"{executor} job counted {count} records, expected {expected_count(records)}"
        )
    assert first is not None
    return elapsed, first


def ray_data_run(records: int) -> float:
    """What a Ray user writes: the same three steps as one vectorised map_batches."""

    def step(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = batch["id"] + 1
        x = x[x % 3 != 0]
        return {"id": x * 2}

    start = time.perf_counter()
    ds = ray.data.range(records).map_batches(step)
    count = sum(len(b["id"]) for b in ds.iter_batches(batch_size=None))
    elapsed = time.perf_counter() - start
    if count != expected_count(records):
        raise SystemExit(f"Ray Data produced {count} records, expected {expected_count(records)}")
    return elapsed


def ray_data_udf_run(records: int) -> float:
    """The apples-to-apples peer: the same three per-record Python functions, row by row."""
    start = time.perf_counter()
    ds = (
        ray.data.range(records)
        .map(lambda row: {"id": add_one(row["id"])})
        .filter(lambda row: not_multiple_of_three(row["id"]))
        .map(lambda row: {"id": double(row["id"])})
    )
    count = sum(len(b["id"]) for b in ds.iter_batches(batch_size=None))
    elapsed = time.perf_counter() - start
    if count != expected_count(records):
        raise SystemExit(f"Ray Data UDF got {count} records, expected {expected_count(records)}")
    return elapsed


def line(small: int, t_small: float, large: int, t_large: float) -> tuple[float, float]:
    """(fixed seconds, marginal records/s) of the line through two (records, seconds) points."""
    slope = (t_large - t_small) / (large - small)
    if slope <= 0:
        return t_small, float("inf")
    return t_small - small * slope, 1.0 / slope


_RAY_HEAD = """
import sys, ray
context = ray.init(num_cpus=int(sys.argv[2]), include_dashboard=False, log_to_driver=False,
                   _temp_dir=sys.argv[1])
print(context.address_info["gcs_address"], flush=True)
sys.stdin.readline()
ray.shutdown()
"""


def start_ray_head(temp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Ray head run by the job workers' user (a driver must be able to write its cluster's
    session folder; as deployed, workers run as ``sage-job``), token auth on: this process and
    the job manager (so its workers) read the token the head wrote."""
    who = identity.resolve(identity.DEFAULT_WORKER_USER, check=False)
    home = temp / "home"
    home.mkdir(parents=True)
    if who is not None:
        for folder in (temp, home):
            os.chown(folder, who.uid, who.gid)
    head = subprocess.Popen(
        [sys.executable, "-c", _RAY_HEAD, str(temp), str(RAY_CPUS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=home,
        env={**os.environ, "HOME": str(home)},
        **(who.popen_kwargs() if who is not None else {}),
    )
    assert head.stdout is not None
    address = head.stdout.readline().decode().strip()
    if not address:
        raise SystemExit("the Ray head did not start")
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(home / ".ray" / "auth_token"))
    return head, address


def stop_ray_head(head: subprocess.Popen[bytes], temp: Path) -> None:
    assert head.stdin is not None
    head.stdin.close()
    head.wait(60)
    shutil.rmtree(temp, ignore_errors=True)


def start_kernel(
    run_dir: Path, name: str = "kernel", extra: dict[str, str] | None = None
) -> tuple[ManagedProcess, str]:
    ready = run_dir / f"{name}.ready.json"
    env = {
        "SAGE_DATA_DIR": str(run_dir / f"{name}-data"),
        "SAGE_READY_FILE": str(ready),
        "SAGE_LOG_LEVEL": "WARNING",
        **(extra or {}),
    }
    proc = ManagedProcess(
        name,
        [sys.executable, "-m", "sage_kernel"],
        run_dir / f"{name}.log",
        env=env,
        ready_file=ready,
    ).start()
    return proc, proc.wait_ready_file(60)["address"]


def main() -> None:
    bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k and 1M records, one timed run")
    parser.add_argument("--records", type=int, help="the larger size (default 10M, 1M --quick)")
    args = parser.parse_args()
    repeats = 1 if args.quick else 2
    large = args.records or (1_000_000 if args.quick else 10_000_000)
    small = large // 10
    sizes = (small, large)

    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    ray_temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: unix socket paths
    head, address = start_ray_head(ray_temp)
    ray.init(address=address, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    times: dict[str, dict[int, float]] = {}
    firsts: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        kernel, kernel_address = start_kernel(Path(tmp))
        cold_kernel, cold_address = start_kernel(
            Path(tmp), "kernel-cold", {"SAGE_STANDBY_WORKERS": "false"}
        )
        try:
            with JobClient(address=kernel_address) as jobs:
                our_job(jobs, 10_000, "local", "")  # warm-ups: imports, Ray workers, page cache
                our_job(jobs, 10_000, "ray", address)
                ray_data_run(10_000)
                ray_data_udf_run(10_000)
                for size in sizes:
                    local = [our_job(jobs, size, "local", "") for _ in range(repeats)]
                    on_ray = [our_job(jobs, size, "ray", address) for _ in range(repeats)]
                    times.setdefault("local", {})[size] = min(t for t, _ in local)
                    times.setdefault("ray", {})[size] = min(t for t, _ in on_ray)
                    firsts["local"] = min(f for _, f in local)
                    firsts["ray"] = min(f for _, f in on_ray)
                    times.setdefault("ray_data", {})[size] = min(
                        ray_data_run(size) for _ in range(repeats)
                    )
                    times.setdefault("ray_data_udf", {})[size] = min(
                        ray_data_udf_run(size) for _ in range(repeats)
                    )
            with JobClient(address=cold_address) as jobs:
                cold = [our_job(jobs, 10_000, "local", "")[1] for _ in range(max(2, repeats))]
        finally:
            cold_kernel.stop(grace=5)
            kernel.stop(grace=5)
            ray.shutdown()
            stop_ray_head(head, ray_temp)

    result: dict[str, Any] = {
        "records": large,
        "local_rps": round(large / times["local"][large]),
        "ray_rps": round(large / times["ray"][large]),
        "ray_data_rps": round(large / times["ray_data"][large]),
        "submit_to_first_record_s": round(firsts["local"], 3),
        "ray_submit_to_first_record_s": round(firsts["ray"], 3),
    }
    result["ray_vs_ray_data"] = round(result["ray_rps"] / result["ray_data_rps"], 2)
    result["ray_data_udf_rps"] = round(large / times["ray_data_udf"][large])
    for side, by_size in times.items():
        fixed, marginal = line(small, by_size[small], large, by_size[large])
        result[f"{side}_fixed_s"] = round(fixed, 3)
        result[f"{side}_marginal_rps"] = round(marginal) if marginal != float("inf") else None
        result[f"{side}_seconds"] = {str(k): round(v, 3) for k, v in by_size.items()}
    result["cold_submit_to_first_record_s"] = round(min(cold), 3)
    result["warm_submit_to_first_record_s"] = result["submit_to_first_record_s"]
    ray_m, udf_m = result["ray_marginal_rps"], result["ray_data_udf_marginal_rps"]
    result["ray_marginal_vs_ray_data_udf"] = round(ray_m / udf_m, 3) if ray_m and udf_m else None
    result["targets"] = {
        "ray_rps >= 0.5 x ray_data_rps": result["ray_rps"] >= 0.5 * result["ray_data_rps"],
        "submit_to_first_record_s <= 3": result["submit_to_first_record_s"] <= 3,
        "ray_marginal_rps >= 0.8 x ray_data_udf_marginal_rps": None
        if not (ray_m and udf_m)
        else ray_m >= 0.8 * udf_m,
    }
    result.update(
        {
            "n": large,
            "sizes": list(sizes),
            "quick": args.quick,
            "repeats": repeats,
            "ray_cpus": RAY_CPUS,
        }
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
