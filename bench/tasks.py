#!/usr/bin/env python3
"""Async tasks through the SDK (``sage_client.tasks`` -> ``python -m sage_tasks``) beside plain
Celery on the same broker with the same worker settings (``bench/celery_peer.py``).

What runs: one redis-server with the mesh's ACL (the broker and result backend, as deployed);
one worker at a time, prefork with CONCURRENCY processes, started, measured, stopped:
- ``task_roundtrip_p50_ms`` / ``celery_roundtrip_p50_ms``: one task submitted, its result
  awaited, then the next (an echo task: the cost is the queue's, not the work's);
- ``tasks_per_s`` / ``celery_tasks_per_s``: a burst of tasks submitted at once, then every
  result collected; tasks / elapsed seconds.
Both workers run throughout (queues of their own); the two sides alternate for ``rounds`` rounds
and each keeps its best (throughput: highest; p50: lowest).
The SDK's path adds the submitter's HMAC signature and the worker's admission (signature,
roles, cancel marker, delivery count: one pipelined Redis round trip). Target: ``tasks_per_s``
>= 0.8 x ``celery_tasks_per_s``.

    python bench/tasks.py [--quick]

The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)
from measure import percentile

from sage_client.task_protocol import broker_url, celery_settings
from sage_client.tasks import TaskClient
from sage_deploy import infra
from sage_deploy.processes import ManagedProcess, free_port
from sage_deploy.secrets import load as load_secrets

BENCH_DIR = Path(__file__).resolve().parent
CONCURRENCY = 2
PEER_QUEUE = "bench-plain"


def start(name: str, argv: list[str], run: Path, env: dict[str, str]) -> ManagedProcess:
    ready = run / f"{name}.ready"
    proc = ManagedProcess(name, argv, run / f"{name}.log", env=env, ready_file=ready).start()
    return proc


def wait_consuming(proc: ManagedProcess, probe: Callable[[], object]) -> None:
    """Until the worker answers a task (it is consuming)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            probe()
            return
        except Exception:
            if time.monotonic() > deadline or (proc.proc and proc.proc.poll() is not None):
                raise RuntimeError(f"{proc.name} did not start:\n{proc.tail()}") from None


def measure(submit: Callable[[int], Callable[[], object]], roundtrips: int, burst: int) -> dict:
    for i in range(20):  # warm-up: pool processes forked, connections open
        submit(i)()
    latencies = []
    for i in range(roundtrips):
        t0 = time.perf_counter()
        assert submit(i)() == i
        latencies.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    waits = [submit(i) for i in range(burst)]
    results = [w() for w in waits]
    elapsed = time.perf_counter() - t0
    assert results == list(range(burst))
    return {"p50_ms": percentile(latencies, 0.5), "per_s": burst / elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks (about a minute)")
    args = parser.parse_args()
    roundtrips, burst, rounds = (150, 600, 2) if args.quick else (1000, 5000, 3)
    secrets_file = bench_auth.ensure_secrets()
    secrets = load_secrets(secrets_file)
    run = Path(tempfile.mkdtemp(prefix="sage-bench-tasks-"))
    port = free_port()
    redis_proc = infra.redis_process(run, port, secrets=secrets).start()
    infra.wait_port(redis_proc, port)
    url = f"redis://127.0.0.1:{port}/0"
    broker = broker_url(url, secrets)
    pythonpath = os.pathsep.join([str(BENCH_DIR), os.environ.get("PYTHONPATH", "")])
    figures: dict[str, object] = {}
    try:
        # plain Celery: the peer's app, its worker, send_task + AsyncResult.get
        from celery import Celery

        # Both workers run throughout, on queues of their own; the phases alternate and each
        # side keeps its best round, so a busy moment of the machine hits both alike.
        env = {"BENCH_BROKER_URL": broker, "BENCH_CONCURRENCY": str(CONCURRENCY)}
        env["PYTHONPATH"] = pythonpath
        argv = [sys.executable, "-m", "celery", "-A", "celery_peer", "worker", "-Q", PEER_QUEUE]
        argv += ["--loglevel=WARNING", "--without-gossip", "--without-mingle"]
        peer = start("celery-peer", argv, run, env)
        app = Celery(set_as_current=False)
        app.conf.update(celery_settings(broker))

        def plain(i: int) -> Callable[[], object]:
            res = app.send_task("bench.echo", args=[i], queue=PEER_QUEUE)
            return lambda: res.get(timeout=60)

        env = {"SAGE_REDIS_URL": url, "SAGE_PRINCIPAL": "service", "SAGE_LOG_LEVEL": "WARNING"}
        env |= {
            "SAGE_CONCURRENCY": str(CONCURRENCY),
            "SAGE_READY_FILE": str(run / "sage-tasks.ready"),
        }
        worker = start("sage-tasks", [sys.executable, "-m", "sage_tasks"], run, env)
        worker.wait_ready_file(120)
        tasks = TaskClient(url)

        def sdk(i: int) -> Callable[[], object]:
            job = tasks.submit("sage.echo", i)
            return lambda: job.result(timeout=60)

        wait_consuming(peer, lambda: plain(0)())
        wait_consuming(worker, lambda: sdk(0)())
        celery_rounds, our_rounds = [], []
        for _ in range(rounds):
            celery_rounds.append(measure(plain, roundtrips, burst))
            our_rounds.append(measure(sdk, roundtrips, burst))
        tasks.close()
        app.close()
        peer.stop(grace=3)
        worker.stop(grace=3)
        celery = max(celery_rounds, key=lambda r: r["per_s"])
        ours = max(our_rounds, key=lambda r: r["per_s"])
        celery["p50_ms"] = min(r["p50_ms"] for r in celery_rounds)
        ours["p50_ms"] = min(r["p50_ms"] for r in our_rounds)
        figures = {
            "bench": "tasks",
            "n": burst,
            "roundtrips": roundtrips,
            "rounds": rounds,
            "quick": args.quick,
            "concurrency": CONCURRENCY,
            "task_roundtrip_p50_ms": round(ours["p50_ms"], 3),
            "celery_roundtrip_p50_ms": round(celery["p50_ms"], 3),
            "tasks_per_s": round(ours["per_s"], 1),
            "celery_tasks_per_s": round(celery["per_s"], 1),
            "tasks_vs_celery": round(ours["per_s"] / celery["per_s"], 3),
            "target_tasks_vs_celery": 0.8,
        }
    finally:
        redis_proc.stop()
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
