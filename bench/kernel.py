"""Dataflow runtime benchmark: the same map -> filter -> map (three small Python functions on
ints) run by our LocalEnvironment and by plain Python and Bytewax in this process, plus
cross-thread channels, keyed windows and memory under an unbounded source.

    python bench/kernel.py [--quick] [--records N]   # full: 1M records; quick: 300k ("n")

Every rate is records/s of the best of ``repeats`` runs (3 in both modes) after an untimed
warm-up, the output count checked:
  fused_loop_rps        the anchor: one ``for`` loop calling the same three functions
                        (no generators, no framework): what a careful Python user writes
  fused_inline_rps      the same loop with the three bodies written inline (no calls at all)
  generator_rps         the three functions as a chain of generator expressions
  chain_rps             ``env.from_batch(list).map.filter.map.sink`` (chained into one task)
  source_chain_rps      the same chain fed by ``env.from_source(SourceFunction)`` (a user's
                        source class returning one record per ``execute()``, StopSignal at end)
  bytewax_rps           Bytewax 0.21 ``TestingSource(batch_size=1024)`` -> map/filter/map, run_main
  thread_channel_rps    source and sink in two threads with one channel (chaining off)
  keyed_window_rps      keyby(x % 64) + count TumblingWindow(100) + reduce(a + b)
  keyed_event_window_rps / bytewax_keyed_window_rps  the same 64 keys, event-time tumbling
                        windows of 6400 s with record x stamped at x s (100 records per key and
                        window), reduce(a + b): ours with ``time="event"``, Bytewax with
                        ``windowing.reduce_window`` (EventClock, TumblingWindower); both outputs
                        are counted and summed (``keyed_windows_match``)
  channel_latency_p50_ms / _p99_ms   a SourceFunction paced at 1000 records/s (None until a
                        record is due) into a sink across a thread channel (chaining off): from
                        each record's scheduled emit time to
                        its arrival at the sink, with the runtime's default linger (a partial
                        batch waits up to 20 ms) and ``channel_latency_linger0_*`` with linger 0
  peak_rss_mb_unbounded an endless source into a slow sink for ``--unbounded-seconds`` (own
                        process, VmHWM)
Bytewax is null with the reason when it is not installed. The last stdout line is one JSON
object with every figure and the targets checked (target: chain_rps >= 0.8 x fused_loop_rps).
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

from measure import percentile

from sage_client import LocalEnvironment, SourceFunction, TumblingWindow
from sage_client.dataflow.api.functions import StopSignal


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


def run_fused(data: list[int]) -> int:
    out: list[int] = []
    sink = out.append
    for v in data:
        x = add_one(v)
        if not_multiple_of_three(x):
            sink(double(x))
    return len(out)


def run_fused_inline(data: list[int]) -> int:
    out: list[int] = []
    sink = out.append
    for v in data:
        x = v + 1
        if x % 3 != 0:
            sink(x * 2)
    return len(out)


class ListSource(SourceFunction):
    """A user's source: one record of a list per ``execute()``, then StopSignal."""

    def __init__(self, data: list[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.it = iter(data)

    def execute(self, data: Any = None) -> Any:
        return next(self.it, StopSignal)


def run_source_chain(data: list[int]) -> int:
    out: list[int] = []
    env = LocalEnvironment("bench-source-chain")
    (
        env.from_source(ListSource, data)
        .map(add_one)
        .filter(not_multiple_of_three)
        .map(double)
        .sink(out.append)
    )
    env.submit(autostop=True)
    return len(out)


WINDOW_KEYS = 64
WINDOW_S = 6400  # record x at x s: 6400 records, 100 per key, per window (integers: exact)


def run_event_window(data: list[int], out: list[Any]) -> int:
    out.clear()
    env = LocalEnvironment("bench-event-window")
    (
        env.from_batch(data)
        .keyby(lambda x: x % WINDOW_KEYS)
        .window(TumblingWindow(WINDOW_S), time="event", timestamp=lambda x: float(x))
        .reduce(lambda a, b: a + b)
        .sink(out.append)
    )
    env.submit(autostop=True)
    return len(out)


def run_bytewax_window(data: list[int], out: list[Any]) -> int:
    from datetime import UTC, datetime, timedelta

    import bytewax.operators as op
    import bytewax.operators.windowing as win
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, TestingSource, run_main

    out.clear()
    align = datetime(2024, 1, 1, tzinfo=UTC)
    flow = Dataflow("bench-bytewax-window")
    stream = op.input("inp", flow, TestingSource(data, batch_size=1024))
    keyed = op.key_on("key", stream, lambda x: str(x % WINDOW_KEYS))
    clock = win.EventClock(
        # The watermark must not move with this machine's clock (a stall would make records
        # late and drop them): windows close on event time, the rest at the end of the input.
        lambda x: align + timedelta(seconds=x),
        wait_for_system_duration=timedelta(days=365),
    )
    windower = win.TumblingWindower(length=timedelta(seconds=WINDOW_S), align_to=align)
    reduced = win.reduce_window("reduce", keyed, clock, windower, lambda a, b: a + b)
    op.output("out", reduced.down, TestingSink(out))
    run_main(flow)
    return len(out)


class PacedSource(SourceFunction):
    """Emits its scheduled time, ``rate`` records/s, ``count`` records, then StopSignal; before
    a record is due it returns None ("nothing yet"), so the runtime flushes and idles."""

    def __init__(self, rate: float, count: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval, self.count, self.i, self.start = 1.0 / rate, count, 0, 0.0

    def execute(self, data: Any = None) -> Any:
        if self.i >= self.count:
            return StopSignal
        if self.i == 0:
            self.start = time.perf_counter()
        scheduled = self.start + self.i * self.interval
        if time.perf_counter() < scheduled:
            return None  # "nothing yet", as the SourceFunction contract says
        self.i += 1
        return scheduled


def channel_latency(
    rate: float, seconds: float, linger_ms: float | None = None, suffix: str = ""
) -> dict[str, float]:
    """Latency across one thread channel at a fixed rate, from each record's scheduled time;
    ``linger_ms`` None keeps the runtime's default (a partial batch waits up to 20 ms)."""
    latencies: list[float] = []
    runtime: dict[str, Any] = {"chaining": False}
    if linger_ms is not None:
        runtime["linger_ms"] = linger_ms
    env = LocalEnvironment("bench-latency", config={"runtime": runtime})
    env.from_source(PacedSource, rate, int(rate * seconds)).sink(
        lambda t: latencies.append((time.perf_counter() - t) * 1000)
    )
    env.submit(autostop=True)
    return {
        f"channel_latency{suffix}_p50_ms": round(percentile(latencies, 0.5), 3),
        f"channel_latency{suffix}_p99_ms": round(percentile(latencies, 0.99), 3),
        f"channel_latency{suffix}_records": len(latencies),
        "channel_latency_rate_rps": rate,
    }


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


def _window_value(record: Any) -> int:
    """The reduced sum of one window output: ours the value, Bytewax's (key, (window, value))."""
    if isinstance(record, tuple):
        return int(record[1][1])
    return int(record)


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
    parser.add_argument("--quick", action="store_true", help="300k records (about a minute)")
    parser.add_argument("--records", type=int, help="default 1000000, 300000 with --quick")
    parser.add_argument("--unbounded-seconds", type=float, default=20.0)
    parser.add_argument("--unbounded-child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.unbounded_child is not None:
        unbounded_child(args.unbounded_child)
        return

    repeats = 3
    n = args.records or (300_000 if args.quick else 1_000_000)
    if args.quick and args.unbounded_seconds == 20.0:
        args.unbounded_seconds = 5.0
    data = list(range(n))
    small = data[:1000]
    expected = sum(1 for x in data if (x + 1) % 3 != 0)

    results: dict[str, Any] = {"records": n, "n": n, "quick": args.quick, "repeats": repeats}
    results["fused_loop_rps"] = round(
        best_rate(n, repeats, lambda: run_fused(data), expected, lambda: run_fused(small))
    )
    results["fused_inline_rps"] = round(
        best_rate(
            n, repeats, lambda: run_fused_inline(data), expected, lambda: run_fused_inline(small)
        )
    )
    results["source_chain_rps"] = round(
        best_rate(
            n, repeats, lambda: run_source_chain(data), expected, lambda: run_source_chain(small)
        )
    )
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
    except ImportError as exc:
        results["bytewax_rps"] = None  # pip install -e ".[bench]"
        results["bytewax_missing"] = str(exc)
    results["thread_channel_rps"] = round(
        best_rate(
            n, repeats, lambda: run_thread_channel(data), n, lambda: run_thread_channel(small)
        )
    )
    results["keyed_window_rps"] = round(
        best_rate(n, repeats, lambda: run_keyed_window(data), None, lambda: run_keyed_window(small))
    )
    ours: list[Any] = []
    results["keyed_event_window_rps"] = round(
        best_rate(
            n,
            repeats,
            lambda: run_event_window(data, ours),
            None,
            lambda: run_event_window(small, []),
        )
    )
    results["keyed_windows_sage"] = len(ours)
    try:
        theirs: list[Any] = []
        results["bytewax_keyed_window_rps"] = round(
            best_rate(
                n,
                repeats,
                lambda: run_bytewax_window(data, theirs),
                None,
                lambda: run_bytewax_window(small, []),
            )
        )
        results["keyed_windows_bytewax"] = len(theirs)
        sums = (sum(_window_value(v) for v in ours), sum(_window_value(v) for v in theirs))
        results["keyed_windows_match"] = len(ours) == len(theirs) and sums[0] == sums[1]
    except ImportError as exc:
        results["bytewax_keyed_window_rps"] = None
        results["keyed_windows_bytewax"] = None
        results["keyed_windows_match"] = None
        results["bytewax_missing"] = str(exc)
    latency_s = 3.0 if args.quick else 10.0
    results.update(channel_latency(1000.0, latency_s))
    results.update(channel_latency(1000.0, latency_s, linger_ms=0.0, suffix="_linger0"))
    unbounded = measure_unbounded(args.unbounded_seconds)
    results["peak_rss_mb_unbounded"] = unbounded["peak_rss_mb"]
    results["unbounded_records_consumed"] = unbounded["consumed"]
    results["unbounded_seconds"] = args.unbounded_seconds

    bytewax = results["bytewax_rps"]
    results["chain_vs_fused_loop"] = round(results["chain_rps"] / results["fused_loop_rps"], 3)
    results["targets"] = {
        "chain_rps >= 0.8 x fused_loop_rps": results["chain_rps"]
        >= 0.8 * results["fused_loop_rps"],
        "chain_ge_half_generator": results["chain_rps"] >= 0.5 * results["generator_rps"],
        "chain_ge_1.5x_bytewax": None if bytewax is None else results["chain_rps"] >= 1.5 * bytewax,
        "thread_channel_ge_1M": results["thread_channel_rps"] >= 1_000_000,
        "peak_rss_le_200mb": results["peak_rss_mb_unbounded"] <= 200,
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
