"""A running job: wires task instances together, runs them on threads, reports the outcome.

``run_graph`` is the entry point a worker process (job manager, Ray actor) calls as well.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sage_client.dataflow.api import graph as g
from sage_client.dataflow.runtime.channel import Channel, JobAborted, OutputEdge, Router
from sage_client.dataflow.runtime.completion import complete_functions
from sage_client.dataflow.runtime.host import TaskHost
from sage_client.dataflow.runtime.planner import TaskSpec, plan
from sage_client.dataflow.runtime.task import TaskInstance
from sage_client.dataflow.services import ServiceRegistry

log = logging.getLogger("sage.dataflow")

DEFAULTS: dict[str, Any] = {
    "batch_size": 1024,  # records per batch crossing a channel
    "channel_capacity": 16,  # batches a channel holds before the sender blocks
    "linger_ms": 20.0,  # a partial batch waits at most this long before it is sent
    "chaining": True,  # fuse stateless neighbours into one task
}


def runtime_settings(config: dict[str, Any] | None) -> dict[str, Any]:
    """The runtime knobs of a SAGE config: ``config["runtime"]`` over ``DEFAULTS`` (the rest
    of a config is the app's own). ValueError names an unknown knob."""
    overrides = dict((config or {}).get("runtime") or {})
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown runtime setting(s) {unknown}; known: {sorted(DEFAULTS)}")
    return {**DEFAULTS, **overrides}


class Job(TaskHost):
    """Hosts every task instance of a graph, each on its own thread."""

    def __init__(
        self,
        graph: g.LogicalGraph,
        config: dict[str, Any] | None = None,
        restore: dict[str, Any] | None = None,
        checkpointing: bool = False,
        tasks: list[TaskSpec] | None = None,
        reuse: dict[tuple[int, int], Any] | None = None,
    ) -> None:
        """``tasks``: ``plan(graph, chaining=...)`` of these settings, when the caller has it.
        ``reuse``: ``(node_id, index) -> function object`` of a failed run of this graph in
        this process, taken over as they are (recovery in place) instead of new ones."""
        settings = runtime_settings(config)
        self.graph = graph
        self.batch_size = int(settings["batch_size"])
        self.capacity = int(settings["channel_capacity"])
        self.linger = float(settings["linger_ms"]) / 1000.0
        if self.batch_size < 1 or self.capacity < 1 or self.linger < 0:
            raise ValueError("config: batch_size and channel_capacity must be >= 1, linger_ms >= 0")
        self.tasks: list[TaskSpec] = (
            tasks if tasks is not None else plan(graph, chaining=bool(settings["chaining"]))
        )
        self.services = ServiceRegistry(graph.services, job_name=graph.name)
        # in-flight batches are counted for feedback loops, and for checkpoints (quiescence)
        self.tracking = checkpointing or any(n.kind == g.FUTURE for n in graph.nodes.values())
        self.checkpointing = checkpointing
        self.restore_from = restore  # a checkpoint() snapshot to resume from
        self.reused_functions: dict[tuple[int, int], Any] = dict(reuse or {})
        self.pause_requested = False
        self._resumed = threading.Event()
        self._resumed.set()
        self._paused = 0
        self.aborted = False
        self.stop_requested = False
        self.error: BaseException | None = None
        self._error_raised = False  # the error was raised to the caller once (wait or stop)
        self.dead_letter_lock = threading.Lock()
        self._lock = threading.Lock()
        self._inflight = 0
        self._sources_left = 0
        self._running = 0
        self._done = threading.Event()
        self._closed: set[int] = set()
        self.instances: list[TaskInstance] = []
        self._threads: list[threading.Thread] = []
        self._build()

    def _build(self) -> None:
        spec_of_node = {node_id: spec for spec in self.tasks for node_id in spec.nodes}
        by_spec: dict[int, list[TaskInstance]] = {}
        for spec in self.tasks:
            head = self.graph.nodes[spec.head]
            capacity = 0 if head.kind == g.FUTURE else self.capacity
            has_input = head.kind not in (g.SOURCE, g.COLLECTION)
            by_spec[spec.id] = [
                TaskInstance(
                    self, spec, i, Channel(capacity, self._is_aborted) if has_input else None
                )
                for i in range(spec.parallelism)
            ]
        for spec in self.tasks:
            for instance in by_spec[spec.id]:
                ports: dict[int, list[OutputEdge]] = {}
                for edge in spec.outputs:
                    target = by_spec[spec_of_node[edge.dst].id]
                    one_to_one = edge.partition == g.FORWARD and len(target) == spec.parallelism
                    on_send = self._count_send if self.tracking else None
                    ports.setdefault(edge.src_port, []).append(
                        OutputEdge(
                            edge,
                            [t.channel for t in target if t.channel is not None],
                            instance.index,
                            self.batch_size,
                            on_send,
                            one_to_one,
                        )
                    )
                instance.router = Router(ports)
                instance.expected_ends = sum(
                    self.graph.nodes[e.src].parallelism for e in spec.inputs if not e.feedback
                )
                self.instances.append(instance)
        self._sources_left = sum(1 for i in self.instances if i.channel is None)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Job:
        self.services.start()
        self._running = len(self.instances)
        for instance in self.instances:
            thread = threading.Thread(
                target=instance.run, name=f"sage:{self.graph.name}:{instance.name}", daemon=True
            )
            self._threads.append(thread)
        for thread in self._threads:
            thread.start()
        return self

    def wait(self, timeout: float | None = None) -> None:
        """Block until the job ends; re-raise the first user-function error (original traceback)."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"job {self.graph.name!r} still running after {timeout} s")
        for thread in self._threads:
            thread.join()
        if self.error is not None:
            self._error_raised = True
            raise self.error

    def done(self) -> bool:
        return self._done.is_set()

    def stop(self, timeout: float | None = None) -> None:
        """Graceful: sources end their streams, every channel drains, then the job finishes."""
        self.stop_requested = True
        if not self._done.wait(timeout):
            self.cancel()
            self._done.wait(5)
        if self.error is not None and not self._error_raised:
            self._error_raised = True  # once: stop() after a wait() that raised it is quiet
            raise self.error

    def cancel(self) -> None:
        """Abandon in-flight records and end every task."""
        self.aborted = True

    def function_objects(self) -> dict[tuple[int, int], Any]:
        """``(node_id, index) -> function object`` of every instance (what ``reuse`` takes)."""
        return {
            (node_id, instance.index): function
            for instance in self.instances
            for node_id, function in instance.functions.items()
        }

    def metrics(self) -> dict[str, Any]:
        """Per-operator counters summed over instances (records in/out, batches queued at the
        operator's input): what the job manager streams as OperatorMetrics."""
        acc: dict[int, dict[str, int]] = {}

        def slot(node_id: int) -> dict[str, int]:
            return acc.setdefault(
                node_id, {"records_in": 0, "records_out": 0, "errors": 0, "backlog": 0}
            )

        for instance in self.instances:
            for op in list(instance.operators):
                if op.node_id >= 0:
                    counters = slot(op.node_id)
                    counters["records_in"] += op.records_in
                    counters["records_out"] += op.records_out
                    if op.guard is not None:
                        counters["errors"] += op.guard.errors
            if instance.channel is None:
                slot(instance.spec.head)["records_out"] += instance.source_out
            else:
                slot(instance.spec.head)["backlog"] += instance.channel.qsize()
        return {
            "operators": [{"operator_id": str(n), **c} for n, c in sorted(acc.items())],
        }

    def checkpoint(
        self, timeout: float = 10.0, while_paused: Callable[[], Any] | None = None
    ) -> dict[str, Any] | None:
        """Pause the sources between batches, wait until no batch is in flight, and snapshot
        source positions plus every operator's keyed and window state (``while_paused()`` runs
        in the same quiet moment). None when the job did not become quiet within ``timeout``."""
        if not self.tracking:
            raise RuntimeError("checkpoint() needs run_graph(..., checkpointing=True)")
        self._resumed.clear()
        self.pause_requested = True
        try:
            deadline = time.monotonic() + timeout
            while True:
                with self._lock:
                    quiet = self._paused == self._sources_left and self._inflight == 0
                if quiet:
                    break
                if self._done.is_set() or self.aborted or time.monotonic() > deadline:
                    return None
                time.sleep(0.002)
            snapshot: dict[str, Any] = {"sources": {}, "state": {}, "functions": {}}
            for instance in self.instances:
                snapshot["functions"].update(instance.function_states())
                if instance.channel is None:
                    snapshot["sources"][f"{instance.spec.head}:{instance.index}"] = (
                        instance.source_out
                    )
                for node_id, ctx in instance.contexts.items():
                    tables = ctx.state.snapshot()
                    if any(tables.values()):
                        snapshot["state"][f"{node_id}:{instance.index}"] = tables
            snapshot["extra"] = while_paused() if while_paused is not None else None
            return snapshot
        finally:
            self.pause_requested = False
            self._resumed.set()

    def source_pause_point(self, instance: TaskInstance) -> None:
        """A source between two batches: held here while a checkpoint is taken."""
        instance.router.flush()  # type: ignore[union-attr]
        with self._lock:
            self._paused += 1
        try:
            while not self._resumed.wait(0.05):
                if self.aborted:
                    raise JobAborted()
        finally:
            with self._lock:
                self._paused -= 1

    # -- called by task instances (TaskHost) --------------------------------------------------
    def _is_aborted(self) -> bool:
        return self.aborted

    def should_stop_sources(self) -> bool:
        return self.stop_requested or self.aborted

    def fail(self, exc: BaseException, where: str) -> None:
        with self._lock:
            if self.error is None:
                exc.add_note(f"raised in {where} of job {self.graph.name!r}")
                self.error = exc
                log.info("job %r failed in %s: %r", self.graph.name, where, exc)
        self.aborted = True
        self.services.abort_waiters()

    def task_finished(self, instance: TaskInstance) -> None:
        with self._lock:
            self._running -= 1
            last = self._running == 0
        if last:
            if self.error is None and not self.aborted:
                complete_functions(
                    (
                        (f"operator {self.graph.nodes[node_id].name}", function)
                        for task in self.instances
                        for node_id, function in task.functions.items()
                    ),
                    self.fail,
                )
            try:
                self.services.close()
            except Exception as exc:  # noqa: BLE001
                self.fail(exc, "service close()")
            self._done.set()

    def close_once(self, function: Any) -> None:
        from sage_client.dataflow.runtime.operators import close_function

        with self._lock:
            if id(function) in self._closed:
                return
            self._closed.add(id(function))
        close_function(function)

    # feedback loops: a future ends when all sources are done and no batch is in flight
    def _count_send(self) -> None:
        with self._lock:
            self._inflight += 1

    def inflight_add(self, delta: int) -> None:
        with self._lock:
            self._inflight += delta

    def source_finished(self) -> None:
        with self._lock:
            self._sources_left -= 1

    def quiescent(self) -> bool:
        with self._lock:
            return self._sources_left == 0 and self._inflight == 0


def run_graph(
    graph: g.LogicalGraph,
    config: dict[str, Any] | None = None,
    *,
    restore: dict[str, Any] | None = None,
    checkpointing: bool = False,
    tasks: list[TaskSpec] | None = None,
    reuse: dict[tuple[int, int], Any] | None = None,
) -> Job:
    """Plan and start ``graph``; returns the running job (``wait()``, ``stop()``).
    ``checkpointing`` enables ``job.checkpoint()``; ``restore`` resumes from one of its snapshots
    (sources skip what they had produced, operators get their state back). ``tasks``: the
    graph already planned (``plan(graph, chaining=runtime_settings(config)["chaining"])``)."""
    config = config if config is not None else graph.config
    return Job(
        graph, config, restore=restore, checkpointing=checkpointing, tasks=tasks, reuse=reuse
    ).start()
