"""Dataflow runtime benchmark: chained throughput vs a plain generator chain and Bytewax,
cross-thread channel throughput, keyed windows, and memory under an unbounded source.

    python bench/kernel.py [--quick] [--records N]

The last stdout line is one JSON object with every figure and the targets checked.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sage_client import LocalEnvironment, SourceFunction, TumblingWindow


# The three functions every contender runs: map -> filter -> map on small ints.
def add_one(x: int) -> int:
    return x + 1


def not_multiple_of_three(x: int) -> bool:
    return x % 3 != 0


def double(x: int) -> int:
    return x * 2


def best_rate(
    records: int,
    repeats: int,
    run: Callable[[], int],
    expected: int | None,
    warm_up: Callable[[], Any],
) -> float:
    """Records per second of the fastest of ``repeats`` runs; checks the output count.
    ``warm_up`` runs first, untimed, so one-time imports are not counted as throughput."""
    warm_up()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        produced = run()
        elapsed = time.perf_counter() - start
        if expected is not None and produced != expected:
            raise SystemExit(f"benchmark produced {produced} records, expected {expected}")
        best = min(best, elapsed)
    return records / best


def run_chain(data: list[int]) -> int:
    out: list[int] = []
    env = LocalEnvironment("bench-chain")
    env.from_batch(data).map(add_one).filter(not_multiple_of_three).map(double).sink(out.append)
    env.submit(autostop=True)
    return len(out)


def run_generator(data: list[int]) -> int:
    out: list[int] = []
    sink = out.append
    for y in (
        double(x) for x in (x for x in (add_one(v) for v in data) if not_multiple_of_three(x))
    ):
        sink(y)
    return len(out)


def run_bytewax(data: list[int]) -> int:
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, TestingSource, run_main

    out: list[int] = []
    flow = Dataflow("bench-bytewax")
    stream = op.input("inp", flow, TestingSource(data, batch_size=1024))
    stream = op.map("add_one", stream, add_one)
    stream = op.filter("not_multiple_of_three", stream, not_multiple_of_three)
    stream = op.map("double", stream, double)
    op.output("out", stream, TestingSink(out))
    run_main(flow)
    return len(out)


def run_thread_channel(data: list[int]) -> int:
    out: list[int] = []
    env = LocalEnvironment("bench-channel", config={"runtime": {"chaining": False}})
    env.from_batch(data).sink(out.append)  # two tasks, two threads, one channel
    env.submit(autostop=True)
    return len(out)


def run_keyed_window(data: list[int]) -> int:
    out: list[int] = []
    env = LocalEnvironment("bench-window")
    (
        env.from_batch(data)
        .keyby(lambda x: x % 64)
        .window(TumblingWindow(100), time="count")
        .reduce(lambda a, b: a + b)
        .sink(out.append)
    )
    env.submit(autostop=True)
    return len(out)


class Endless(SourceFunction):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = 0

    def execute(self, data: Any = None) -> dict[str, Any]:
        self.n += 1
        return {"id": self.n, "text": "a small record"}


def peak_rss_mb() -> float:
    """VmHWM of this process. (ru_maxrss would also count the parent's pages: Linux carries it
    across fork + exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def unbounded_child(seconds: float) -> None:
    """Runs in its own process so its peak RSS is the pipeline's alone."""
    consumed = [0]

    def slow_sink(record: dict[str, Any]) -> None:
        consumed[0] += 1
        time.sleep(0.0002)

    env = LocalEnvironment("bench-unbounded", config={"runtime": {"chaining": False}})
    env.from_source(Endless).map(lambda r: r).sink(slow_sink)
    env.submit()
    time.sleep(seconds)
    env.stop()
    peak_mb = peak_rss_mb()
    print(json.dumps({"peak_rss_mb": round(peak_mb, 1), "consumed": consumed[0]}))


def measure_unbounded(seconds: float) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--unbounded-child", str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run of each (about 40 s)")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--unbounded-seconds", type=float, default=20.0)
    parser.add_argument("--unbounded-child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.unbounded_child is not None:
        unbounded_child(args.unbounded_child)
        return

    repeats = 1 if args.quick else 3
    n = args.records
    data = list(range(n))
    small = data[:1000]
    expected = sum(1 for x in data if (x + 1) % 3 != 0)

    results: dict[str, Any] = {"records": n, "quick": args.quick}
    results["generator_rps"] = round(
        best_rate(n, repeats, lambda: run_generator(data), expected, lambda: run_generator(small))
    )
    results["chain_rps"] = round(
        best_rate(n, repeats, lambda: run_chain(data), expected, lambda: run_chain(small))
    )
    try:
        results["bytewax_rps"] = round(
            best_rate(n, repeats, lambda: run_bytewax(data), expected, lambda: run_bytewax(small))
        )
    except ImportError:
        results["bytewax_rps"] = None  # pip install -e ".[bench]"
    results["thread_channel_rps"] = round(
        best_rate(
            n, repeats, lambda: run_thread_channel(data), n, lambda: run_thread_channel(small)
        )
    )
    results["keyed_window_rps"] = round(
        best_rate(n, repeats, lambda: run_keyed_window(data), None, lambda: run_keyed_window(small))
    )
    unbounded = measure_unbounded(args.unbounded_seconds)
    results["peak_rss_mb_unbounded"] = unbounded["peak_rss_mb"]
    results["unbounded_records_consumed"] = unbounded["consumed"]
    results["unbounded_seconds"] = args.unbounded_seconds

    bytewax = results["bytewax_rps"]
    results["targets"] = {
        "chain_ge_half_generator": results["chain_rps"] >= 0.5 * results["generator_rps"],
        "chain_ge_1.5x_bytewax": None if bytewax is None else results["chain_rps"] >= 1.5 * bytewax,
        "thread_channel_ge_1M": results["thread_channel_rps"] >= 1_000_000,
        "peak_rss_le_200mb": results["peak_rss_mb_unbounded"] <= 200,
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
