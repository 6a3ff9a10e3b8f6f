"""Job-manager benchmark: small records map -> filter -> map, submitted to a real job manager on
the local and the Ray executor, against Ray Data doing the same in this run.

    python bench/jobs.py [--quick] [--records N]

Two sizes, ``N / 10`` and ``N`` records (1M and 10M; with ``--quick`` 100k and 1M), each
contender at both: from the two times, ``*_marginal_rps`` (records per second once running:
``(N - N/10) / (t_N - t_N/10)``) and ``*_fixed_s`` (what a job costs before its first record
counts: ``t_N/10 - (N/10) / marginal``). ``*_rps`` is ``N / t_N``. Contenders:

- ``local``: our job on the local executor (one chain instance: its threads share one GIL);
- ``ray``: our job on the Ray executor, two chain instances (Ray is given two CPUs, which Ray
  Data also uses);
- ``ray_data_udf``: Ray Data with the same three per-record Python functions
  (``ds.map(...).filter(...).map(...)`` on rows): the apples-to-apples peer;
- ``ray_data_udf_batches``: the same functions called per record inside one ``map_batches``
  (a Ray user's way around the per-row overhead when the work does not vectorise);
- ``ray_data``: Ray Data ``map_batches`` with the three steps vectorised in numpy: what a Ray
  user writes when the work vectorises, which our per-record functions do not.

Times are end to end as a user sees them: from the submit call to the job's end, best of the
repeats (3; 1 with --quick), after one untimed warm-up of each contender. The job manager runs as
deployed, with its standby workers on: a pre-started worker has its imports done and (on Ray) is
connected, with empty actors already created, so a warm job's time includes loading the graph,
wiring the actors and opening the functions, not the actors' process start.
``submit_to_first_record_s`` (local) and ``ray_submit_to_first_record_s``: from the submit call
until the first record's line printed by the sink reaches the client, warm.
``cold_submit_to_first_record_s`` / ``ray_cold_submit_to_first_record_s``: the same on a second
job manager with ``SAGE_STANDBY_WORKERS=false``, so the worker's start, imports, Ray connection
and actor creation are inside. ``ray_two_node_speedup``: the same job (two instances, 1M records
or N if smaller) on a ``ray start`` cluster of a head and two 1-CPU worker nodes, both instances
on one node vs one on each (``LocalRayCluster``). The last stdout line is one JSON object.
Needs ``pip install -e ".[bench]"`` (Ray Data).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)
import numpy as np
from measure import wait_host_idle

from sage_client import JobClient, LocalEnvironment, SinkFunction
from sage_client.dataflow.scheduler import BaseScheduler, PlacementDecision
from sage_deploy.processes import ManagedProcess
from sage_kernel import identity
from sage_kernel.ray_cluster import LocalRayCluster
from sage_kernel.ray_head import LocalRayHead


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
RAY_DATA_MODES = ("udf", "udf_batches", "vectorised")
TWO_NODE_RECORDS = 1_000_000


def settle() -> None:
    """Before each timed run: wait (up to 5 s: a successor standby is ready in about 1 s on an
    idle host) until the host is idle, so a run does not share the CPUs with what the one
    before it left starting (the job manager's successor standby worker, Ray's idle workers),
    as a job submitted a moment later than the last would not. On a host busy with other work
    it gives up after 5 s and the run goes on."""
    wait_host_idle(limit_s=5, busy=0.4)


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
    settle()
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


class OnNodes(BaseScheduler):
    """Instance i of every operator on ``nodes[i % len(nodes)]`` (Ray node ids)."""

    def __init__(self, nodes: list[str]) -> None:
        super().__init__()
        self.nodes = nodes

    def make_decision(self, task_node: Any) -> PlacementDecision:
        return PlacementDecision.with_node(self.nodes[task_node.parallel_index % len(self.nodes)])


def cluster_job(jobs: JobClient, records: int, address: str, nodes: list[str]) -> float:
    """Our Ray job, two chain instances wide, placed on ``nodes``: seconds submit to end."""
    env = LocalEnvironment("bench-cluster", scheduler=OnNodes(nodes))
    (
        env.from_batch(range(records), parallelism=2)
        .map(add_one, parallelism=2)
        .filter(not_multiple_of_three, parallelism=2)
        .map(double, parallelism=2)
        .sink(CountingSink, parallelism=2)
    )
    env._place()  # what RemoteEnvironment does at submit: the decisions travel with the graph
    settle()
    start = time.perf_counter()
    handle = jobs.submit(env.graph, executor="ray", ray_address=address)
    count = sum(int(line.split()[1]) for line in handle.logs(follow=True) if line[:6] == "COUNT ")
    elapsed = time.perf_counter() - start
    handle.wait()
    if count != expected_count(records):
        raise SystemExit(f"cluster job counted {count} records, expected {expected_count(records)}")
    return elapsed


def two_node_figures(records: int, repeats: int) -> dict[str, Any]:
    """The same job on a ``ray start`` cluster (a head, two 1-CPU worker nodes) with both
    instances on one worker node, then one on each: ``ray_two_node_speedup``. On a host with
    fewer than 4 cores the nodes share the cores (and the driver and the head take some), so
    the figure there is a floor, not what two machines give."""
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        cluster = LocalRayCluster(workers=2, cpus_per_worker=1).start()
        saved = {k: os.environ.get(k) for k in cluster.auth_env}
        cluster.export_auth()  # the second job manager (and its workers) use this cluster's token
        kernel, kernel_address = start_kernel(Path(tmp))
        try:
            first, second = cluster.node_ids["sage_node_0"], cluster.node_ids["sage_node_1"]
            with JobClient(address=kernel_address) as jobs:
                cluster_job(jobs, 10_000, cluster.address, [first, second])  # warm-up
                one, two = [], []
                for _ in range(repeats):  # interleaved: a load change hits both alike
                    one.append(cluster_job(jobs, records, cluster.address, [first]))
                    two.append(cluster_job(jobs, records, cluster.address, [first, second]))
        finally:
            kernel.stop(grace=5)
            cluster.stop()
            os.environ.update({k: v for k, v in saved.items() if v is not None})
    return {
        "ray_one_node_rps": round(records / min(one)),
        "ray_two_node_rps": round(records / min(two)),
        "ray_two_node_speedup": round(min(one) / min(two), 2),
        "cluster_host_cpus": os.cpu_count(),
    }


def ray_data_dataset(records: int, mode: str) -> Any:
    """``udf``: the same three per-record Python functions as our job, on Ray Data rows;
    ``udf_batches``: the same functions called per record inside one ``map_batches`` (what a Ray
    user writes to save the per-row overhead when the work does not vectorise);
    ``vectorised``: the three steps as one numpy ``map_batches``."""
    import ray  # imported after the auth variables are set: Ray reads them once, at import

    ds = ray.data.range(records)
    if mode == "udf":
        return (
            ds.map(lambda row: {"id": add_one(row["id"])})
            .filter(lambda row: not_multiple_of_three(row["id"]))
            .map(lambda row: {"id": double(row["id"])})
        )

    if mode == "udf_batches":

        def per_record(batch: dict[str, np.ndarray]) -> dict[str, list[int]]:
            kept = (add_one(int(x)) for x in batch["id"])
            return {"id": [double(x) for x in kept if not_multiple_of_three(x)]}

        return ds.map_batches(per_record)

    def step(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = batch["id"] + 1
        x = x[x % 3 != 0]
        return {"id": x * 2}

    return ds.map_batches(step)


def ray_data_run(records: int, mode: str) -> float:
    settle()
    start = time.perf_counter()
    ds = ray_data_dataset(records, mode)
    count = sum(len(b["id"]) for b in ds.iter_batches(batch_size=None))
    elapsed = time.perf_counter() - start
    if count != expected_count(records):
        raise SystemExit(
            f"Ray Data ({mode}) produced {count} records, expected {expected_count(records)}"
        )
    return elapsed


def ray_data_driver(address: str, sizes: list[int], repeats: int) -> None:
    """The Ray Data contenders' own driver process (``--ray-data-driver``): per mode one untimed
    warm-up, then ``repeats`` timed runs at each size; {mode: {size: [seconds]}} as one JSON
    object on the last line."""
    import ray

    ray.init(address=address, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    times: dict[str, dict[str, list[float]]] = {}
    try:
        for mode in RAY_DATA_MODES:
            ray_data_run(10_000, mode)
            times[mode] = {str(n): [ray_data_run(n, mode) for _ in range(repeats)] for n in sizes}
        print(json.dumps(times))
    finally:
        ray.shutdown()


def ray_data_contender(
    head: LocalRayHead, sizes: list[int], repeats: int
) -> dict[str, dict[int, list[float]]]:
    """Runs ``ray_data_driver`` as the head's user: a Ray driver writes into the cluster's
    session folder, which belongs to the workers' user (as our Ray jobs' drivers do)."""
    who = identity.resolve(head.worker_user, check=False)
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--ray-data-driver",
            head.address,
            ",".join(map(str, sizes)),
            str(repeats),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env={**os.environ, **head.auth_env},
        **(who.popen_kwargs() if who is not None else {}),
    )
    if out.returncode != 0:
        raise SystemExit(f"the Ray Data driver failed:\n{out.stderr[-4000:]}")
    times = json.loads(out.stdout.strip().splitlines()[-1])
    return {mode: {int(n): ts for n, ts in by_size.items()} for mode, by_size in times.items()}


def fixed_and_marginal(small: int, t_small: float, large: int, t_large: float) -> dict[str, Any]:
    """The straight line through (small, t_small) and (large, t_large): its slope as a rate and
    its intercept as the fixed cost; null when the larger run was not slower (noise won)."""
    if t_large <= t_small:
        return {"fixed_s": None, "marginal_rps": None}
    marginal = (large - small) / (t_large - t_small)
    return {"fixed_s": round(t_small - small / marginal, 3), "marginal_rps": round(marginal)}


def start_kernel(run_dir: Path, standby: bool = True) -> tuple[ManagedProcess, str]:
    ready = run_dir / "kernel.ready.json"
    env = {
        "SAGE_DATA_DIR": str(run_dir / "data"),
        "SAGE_READY_FILE": str(ready),
        "SAGE_LOG_LEVEL": "WARNING",
        "SAGE_STANDBY_WORKERS": "true" if standby else "false",
    }
    proc = ManagedProcess(
        "kernel",
        [sys.executable, "-m", "sage_kernel"],
        run_dir / "kernel.log",
        env=env,
        ready_file=ready,
    ).start()
    return proc, proc.wait_ready_file(60)["address"]


def cold_first_records(run_dir: Path, ray_address: str, repeats: int) -> dict[str, float]:
    """Submit-to-first-record on a job manager without standby workers: every job's worker
    starts, imports, connects to Ray and creates its actors after the submit call."""
    kernel, kernel_address = start_kernel(run_dir, standby=False)
    try:
        with JobClient(address=kernel_address) as jobs:
            local = [our_job(jobs, 10_000, "local", "")[1] for _ in range(repeats)]
            on_ray = [our_job(jobs, 10_000, "ray", ray_address)[1] for _ in range(repeats)]
    finally:
        kernel.stop(grace=5)
    return {
        "cold_submit_to_first_record_s": round(min(local), 3),
        "ray_cold_submit_to_first_record_s": round(min(on_ray), 3),
    }


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--ray-data-driver":
        sizes = [int(n) for n in sys.argv[3].split(",")]
        ray_data_driver(sys.argv[2], sizes, int(sys.argv[4]))
        return
    bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1M and 100k records, one run each")
    parser.add_argument(
        "--records", type=int, default=None, help="the larger size (10M; 1M with --quick)"
    )
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    n = args.records or (1_000_000 if args.quick else 10_000_000)
    if n < 1000:
        parser.error("--records must be at least 1000")
    sizes = [n // 10, n]

    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    # one Ray head for every contender, run as the job workers' user with token auth on, as
    # deployed; the job managers started below inherit the token's path
    head = LocalRayHead(num_cpus=RAY_CPUS).start()
    head.export_auth()
    address = head.address
    times: dict[str, dict[int, list[float]]] = {"local": {}, "ray": {}}
    firsts: dict[str, list[float]] = {"local": [], "ray": []}
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        kernel, kernel_address = start_kernel(Path(tmp) / "warm")
        try:
            with JobClient(address=kernel_address) as jobs:
                our_job(jobs, 10_000, "local", "")  # warm-ups: imports, Ray workers, page cache
                our_job(jobs, 10_000, "ray", address)
                for executor, ray_address in (("local", ""), ("ray", address)):
                    for size in sizes:
                        runs = [our_job(jobs, size, executor, ray_address) for _ in range(repeats)]
                        times[executor][size] = [t for t, _ in runs]
                        firsts[executor] += [f for _, f in runs]
        finally:
            kernel.stop(grace=5)
        try:
            times.update(ray_data_contender(head, sizes, repeats))
            cold = cold_first_records(Path(tmp) / "cold", address, repeats)
        finally:
            head.stop()

    result: dict[str, Any] = {"records": n, "n": n, "sizes": sizes, "quick": args.quick}
    prefix = {
        "local": "local",
        "ray": "ray",
        "udf": "ray_data_udf",
        "udf_batches": "ray_data_udf_batches",
        "vectorised": "ray_data",
    }
    for contender, name in prefix.items():
        best = {size: min(ts) for size, ts in times[contender].items()}
        result[f"{name}_rps"] = round(n / best[n])
        line = fixed_and_marginal(sizes[0], best[sizes[0]], n, best[n])
        result[f"{name}_fixed_s"] = line["fixed_s"]
        result[f"{name}_marginal_rps"] = line["marginal_rps"]
    result["submit_to_first_record_s"] = round(min(firsts["local"]), 3)
    result["ray_submit_to_first_record_s"] = round(min(firsts["ray"]), 3)
    result.update(cold)
    result["ray_vs_ray_data"] = round(result["ray_rps"] / result["ray_data_rps"], 2)
    for peer in ("ray_data_udf", "ray_data_udf_batches"):
        result[f"ray_vs_{peer}"] = round(result["ray_rps"] / result[f"{peer}_rps"], 2)
    result.update(two_node_figures(min(n, TWO_NODE_RECORDS), repeats))
    marginal, peer = result["ray_marginal_rps"], result["ray_data_udf_marginal_rps"]
    result["targets"] = {
        "ray_marginal_rps >= 0.8 x ray_data_udf_marginal_rps": (
            None if marginal is None or peer is None else marginal >= 0.8 * peer
        ),
        "ray_rps >= 0.5 x ray_data_rps": result["ray_rps"] >= 0.5 * result["ray_data_rps"],
        "submit_to_first_record_s <= 3": result["submit_to_first_record_s"] <= 3,
        "ray_two_node_speedup >= 1.6": result["ray_two_node_speedup"] >= 1.6,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
