"""Job-manager benchmark: 1M small records map -> filter -> map, submitted to a real job manager
on the local and the Ray executor, against Ray Data ``map_batches`` doing the same in this run.

    python bench/jobs.py [--quick] [--records N]

On Ray our job runs two chain instances (Ray is given two CPUs, which Ray Data also uses); on
the local executor one. Every rate is end to end as a user sees it: from the submit call to the job's end (worker start,
Ray connection and actor creation included), best of the repeats, after one untimed warm-up of
each contender. ``submit_to_first_record_s``: from the submit call until the first record's line
printed by the sink reaches the client (local executor). ``ray_two_node_speedup``: the same job
(two instances) on a ``ray start`` cluster of a head and two 1-CPU worker nodes, both instances
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


def ray_data_run(records: int) -> float:
    """What a Ray user writes: the same three steps as one vectorised map_batches."""
    import ray  # imported after the auth variables are set: Ray reads them once, at import

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


def ray_data_driver(address: str, records: int, repeats: int) -> None:
    """The Ray Data contender's own driver process (``--ray-data-driver``): one untimed warm-up,
    then ``repeats`` timed runs, their seconds as one JSON list on the last line."""
    import ray

    ray.init(address=address, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        ray_data_run(10_000)
        print(json.dumps([ray_data_run(records) for _ in range(repeats)]))
    finally:
        ray.shutdown()


def ray_data_contender(head: LocalRayHead, records: int, repeats: int) -> list[float]:
    """Runs ``ray_data_driver`` as the head's user: a Ray driver writes into the cluster's
    session folder, which belongs to the workers' user (as our Ray jobs' drivers do)."""
    who = identity.resolve(head.worker_user, check=False)
    out = subprocess.run(
        [sys.executable, __file__, "--ray-data-driver", head.address, str(records), str(repeats)],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env={**os.environ, **head.auth_env},
        **(who.popen_kwargs() if who is not None else {}),
    )
    if out.returncode != 0:
        raise SystemExit(f"the Ray Data driver failed:\n{out.stderr[-4000:]}")
    return [float(t) for t in json.loads(out.stdout.strip().splitlines()[-1])]


def start_kernel(run_dir: Path) -> tuple[ManagedProcess, str]:
    ready = run_dir / "kernel.ready.json"
    env = {
        "SAGE_DATA_DIR": str(run_dir / "data"),
        "SAGE_READY_FILE": str(ready),
        "SAGE_LOG_LEVEL": "WARNING",
    }
    proc = ManagedProcess(
        "kernel",
        [sys.executable, "-m", "sage_kernel"],
        run_dir / "kernel.log",
        env=env,
        ready_file=ready,
    ).start()
    return proc, proc.wait_ready_file(60)["address"]


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--ray-data-driver":
        ray_data_driver(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one timed run each (about a minute)")
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    n = args.records

    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    # one Ray head for both contenders, run as the job workers' user with token auth on, as
    # deployed; the job manager started below inherits the token's path
    head = LocalRayHead(num_cpus=RAY_CPUS).start()
    head.export_auth()
    address = head.address
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        kernel, kernel_address = start_kernel(Path(tmp))
        try:
            with JobClient(address=kernel_address) as jobs:
                our_job(jobs, 10_000, "local", "")  # warm-ups: imports, Ray workers, page cache
                our_job(jobs, 10_000, "ray", address)
                local = [our_job(jobs, n, "local", "") for _ in range(repeats)]
                on_ray = [our_job(jobs, n, "ray", address) for _ in range(repeats)]
                data = ray_data_contender(head, n, repeats)
        finally:
            kernel.stop(grace=5)
            head.stop()

    result = {
        "records": n,
        "local_rps": round(n / min(t for t, _ in local)),
        "ray_rps": round(n / min(t for t, _ in on_ray)),
        "ray_data_rps": round(n / min(data)),
        "submit_to_first_record_s": round(min(f for _, f in local), 3),
        "ray_submit_to_first_record_s": round(min(f for _, f in on_ray), 3),
    }
    result["ray_vs_ray_data"] = round(result["ray_rps"] / result["ray_data_rps"], 2)
    result.update(two_node_figures(n, repeats))
    result["targets"] = {
        "ray_rps >= 0.5 x ray_data_rps": result["ray_rps"] >= 0.5 * result["ray_data_rps"],
        "submit_to_first_record_s <= 3": result["submit_to_first_record_s"] <= 3,
        "ray_two_node_speedup >= 1.6": result["ray_two_node_speedup"] >= 1.6,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
