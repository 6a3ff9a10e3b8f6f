"""How the benchmarks take a figure, written once: percentiles, closed and open loops, a server
process's CPU time and memory, a service's cold start.

- ``closed_loop``: N callers issue calls back to back (throughput; latency at saturation).
- ``open_loop``: calls *arrive* at a fixed rate whether or not earlier ones finished; each
  latency counts from the call's scheduled arrival, so a stalled server shows up in p99 instead
  of slowing the generator down (no coordinated omission).
- ``ProcessCPU``: a process's user + system CPU seconds (``/proc/PID/stat``) over a window, so
  "server CPU-µs per call" does not depend on how fast the Python load generator is.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def closed_loop(
    seconds: float,
    call: Callable[[], Awaitable[object]],
    callers: int,
    record_latency: bool = False,
) -> tuple[float, list[float]]:
    """``callers`` workers call ``call()`` back to back for ``seconds``; (calls/s, latencies ms)."""
    latencies: list[float] = []
    count = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal count
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            await call()
            if record_latency:
                latencies.append((time.perf_counter() - t0) * 1000)
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(callers)))
    return count / (time.perf_counter() - start), latencies


@dataclass
class OpenLoopResult:
    rate: float  # offered calls/s
    achieved: float  # completed calls/s
    p50_ms: float
    p99_ms: float
    errors: int = 0
    latencies: list[float] = field(default_factory=list, repr=False)

    def figures(self) -> dict[str, float]:
        return {
            "offered_rps": round(self.rate, 1),
            "achieved_rps": round(self.achieved, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "errors": self.errors,
        }


async def open_loop(
    rate: float, seconds: float, call: Callable[[], Awaitable[object]]
) -> OpenLoopResult:
    """Start one call every 1/``rate`` s for ``seconds``; latency from each scheduled arrival."""
    interval = 1.0 / rate
    latencies: list[float] = []
    errors = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one(scheduled: float) -> None:
        nonlocal errors
        try:
            await call()
        except Exception:  # noqa: BLE001 - counted, the run goes on
            errors += 1
            return
        latencies.append((time.perf_counter() - scheduled) * 1000)

    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return OpenLoopResult(
        rate=rate,
        achieved=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        errors=errors,
        latencies=latencies,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used so far (its threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)


class ProcessCPU:
    """``with ProcessCPU(pid) as cpu: ...``; then ``cpu.seconds`` is what ``pid`` used inside."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.seconds = 0.0

    def __enter__(self) -> ProcessCPU:
        self._start = cpu_seconds(self.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = cpu_seconds(self.pid) - self._start

    def us_per(self, calls: float) -> float:
        return self.seconds * 1e6 / calls if calls else float("nan")


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` now, in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def host_busy_cpus(window_s: float = 0.25) -> float:
    """How many CPUs the whole host kept busy over ``window_s`` (from ``/proc/stat``)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, idle

    busy0, idle0 = sample()
    time.sleep(window_s)
    busy1, idle1 = sample()
    total = (busy1 - busy0) + (idle1 - idle0)
    return (os.cpu_count() or 1) * (busy1 - busy0) / total if total else 0.0


def wait_host_idle(limit_s: float = 30.0, busy: float = 0.25) -> tuple[float, bool]:
    """Waits until the host keeps fewer than ``busy`` CPUs busy for a quarter second (what a
    background start, such as a job manager's successor standby worker, leaves behind):
    (seconds waited, whether it got idle before ``limit_s``)."""
    began = time.perf_counter()
    while time.perf_counter() - began < limit_s:
        if host_busy_cpus() < busy:
            return time.perf_counter() - began, True
    return time.perf_counter() - began, False
