"""SAGE's ``config["fault_tolerance"]`` for LocalEnvironment: a job that fails is run again.

    "fault_tolerance": {"strategy": "checkpoint", "checkpoint_interval": 2.0,
                        "max_recovery_attempts": 3}
    "fault_tolerance": {"strategy": "restart", "restart_strategy": "exponential",
                        "initial_delay": 1.0, "max_delay": 5.0, "multiplier": 2.0,
                        "max_attempts": 3}

``checkpoint`` snapshots the job every ``checkpoint_interval`` seconds (``Job.checkpoint``:
source positions, keyed and window state, and each function's ``get_state()``); after a failure
the job restarts from the last snapshot, and functions that define ``restore_state(state)`` get
theirs back. ``restart`` runs the job again with its restart strategy's delays. Either way the
function objects of the failed run are taken over (recovery in place, as SAGE's local runtime
does), so a source that keeps its own position goes on from there. Records between the last
snapshot and the failure may be seen twice (at-least-once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sage_client.dataflow.api import graph as g
from sage_client.dataflow.restart import RestartPolicy
from sage_client.dataflow.runtime.job import Job, run_graph

log = logging.getLogger("sage.dataflow.recovery")

STRATEGIES = ("restart", "checkpoint")
_KNOWN_KEYS = frozenset(
    {
        "strategy",
        "checkpoint_interval",
        "checkpoint_dir",
        "max_recovery_attempts",
        "restart_strategy",
        "delay",
        "max_attempts",
        "initial_delay",
        "max_delay",
        "multiplier",
        "max_failures_per_interval",
        "interval_seconds",
    }
)


@dataclass(frozen=True)
class FaultTolerance:
    strategy: str
    restart: RestartPolicy
    checkpoint_interval: float = 60.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> FaultTolerance | None:
        """None when the config asks for no fault tolerance. ValueError names a bad key."""
        ft = (config or {}).get("fault_tolerance")
        if ft is None or ft is False:
            return None
        if ft is True:
            ft = {"strategy": "restart"}
        if not isinstance(ft, Mapping):
            raise ValueError(f"config['fault_tolerance'] must be a dict, got {type(ft).__name__}")
        unknown = sorted(set(ft) - _KNOWN_KEYS)
        if unknown:
            raise ValueError(
                f"unknown fault_tolerance setting(s) {unknown}; known: {sorted(_KNOWN_KEYS)}"
            )
        strategy = ft.get("strategy", "restart")
        if strategy not in STRATEGIES:
            raise ValueError(
                f"fault_tolerance.strategy must be one of {STRATEGIES}, got {strategy!r}"
            )
        attempts = int(ft.get("max_recovery_attempts", 3))
        if "restart_strategy" in ft or strategy == "restart":
            policy = RestartPolicy.from_sage(ft, default_attempts=attempts)
        else:
            policy = RestartPolicy("fixed_delay", attempts=attempts, delay_s=0.0)
        interval = float(ft.get("checkpoint_interval", 60.0))
        if strategy == "checkpoint" and interval <= 0:
            raise ValueError(f"fault_tolerance.checkpoint_interval must be > 0, got {interval}")
        return cls(strategy, policy, interval)

    @property
    def checkpointing(self) -> bool:
        return self.strategy == "checkpoint"


class RecoveringJob:
    """Looks like a ``Job`` (``wait``, ``done``, ``stop``, ``cancel``, ``metrics``) but runs
    the graph again after a failure, as its ``FaultTolerance`` allows."""

    def __init__(
        self, graph: g.LogicalGraph, config: dict[str, Any], policy: FaultTolerance
    ) -> None:
        self.graph = graph
        self.config = config
        self.policy = policy
        self.recoveries = 0
        self.checkpoints = 0
        self.error: BaseException | None = None
        self._snapshot: dict[str, Any] | None = None
        self._stopping = False
        self._done = threading.Event()
        self._job: Job = self._run(None, None)
        self._thread = threading.Thread(
            target=self._supervise, name=f"sage:{graph.name}:recovery", daemon=True
        )
        self._thread.start()

    def _run(self, restore: dict[str, Any] | None, reuse: dict[tuple[int, int], Any] | None) -> Job:
        return run_graph(
            self.graph,
            self.config,
            restore=restore,
            checkpointing=self.policy.checkpointing,
            reuse=reuse,
        )

    def _supervise(self) -> None:
        failures: list[float] = []
        try:
            while True:
                job = self._job
                self._watch(job)
                if job.error is None or self._stopping:
                    self.error = job.error
                    return
                failures.append(time.monotonic())
                delay = self.policy.restart.next_delay(self.recoveries, failures)
                if delay is None:
                    job.error.add_note(
                        f"fault tolerance ({self.policy.strategy}) gave up after "
                        f"{self.recoveries} recovery attempt(s)"
                    )
                    self.error = job.error
                    return
                self.recoveries += 1
                where = "the last checkpoint" if self._snapshot else "the start"
                log.warning(
                    "job %r failed (%r); recovery %d from %s in %.2f s",
                    self.graph.name,
                    job.error,
                    self.recoveries,
                    where,
                    delay,
                )
                if delay and self._sleep(delay):
                    self.error = job.error
                    return
                self._job = self._run(self._snapshot, job.function_objects())
                if self._stopping:  # stop() came while the new run was starting: it stopped
                    self._job.stop_requested = True  # the old one; the new one stops too
        finally:
            self._done.set()

    def _watch(self, job: Job) -> None:
        """Wait for ``job`` to end, taking a checkpoint every interval while it runs."""
        interval = self.policy.checkpoint_interval
        while not job._done.wait(interval if self.policy.checkpointing else None):
            snapshot = job.checkpoint(timeout=min(10.0, interval))
            if snapshot is not None:
                self._snapshot = snapshot
                self.checkpoints += 1
        try:
            job.wait()  # joins the task threads; the error stays on job.error
        except BaseException:  # noqa: BLE001
            pass

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; True when stop() came meanwhile."""
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return self._stopping

    # -- the Job interface -------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> None:
        if not self._done.wait(timeout):
            raise TimeoutError(f"job {self.graph.name!r} still running after {timeout} s")
        if self.error is not None:
            raise self.error

    def done(self) -> bool:
        return self._done.is_set()

    def stop(self, timeout: float | None = None) -> None:
        self._stopping = True
        try:
            self._job.stop(timeout)
        except Exception:  # noqa: BLE001 - the supervisor records the outcome
            pass
        self.wait(timeout)

    def cancel(self) -> None:
        self._stopping = True
        self._job.cancel()

    def metrics(self) -> dict[str, Any]:
        body = self._job.metrics()
        body["recoveries"] = self.recoveries
        body["checkpoints"] = self.checkpoints
        return body
