"""One running instance of a task: its operators, its input channel, its router, its thread."""

from __future__ import annotations

import copy
import functools
import queue
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sage_client.dataflow.api import graph as g
from sage_client.dataflow.api.errors import DeadLetter, FailedRecord, Retry
from sage_client.dataflow.runtime import operators as ops
from sage_client.dataflow.runtime.channel import END, Channel, JobAborted, Router
from sage_client.dataflow.runtime.context import RuntimeContext
from sage_client.dataflow.runtime.sources import collection_batches, function_batches, paced

if TYPE_CHECKING:
    from sage_client.dataflow.runtime.host import TaskHost
    from sage_client.dataflow.runtime.planner import TaskSpec


class TaskInstance:
    """Runs inside a ``TaskHost`` (the local ``Job``, or one Ray actor's): all it asks of the
    job goes through that interface."""

    def __init__(self, job: TaskHost, spec: TaskSpec, index: int, channel: Channel | None) -> None:
        self.job = job
        self.spec = spec
        self.index = index
        self.channel = channel
        self.router: Router | None = None
        self.expected_ends = 0
        self.sender_id = spec.id * 100_000 + index
        self.name = f"{job.graph.nodes[spec.head].name}[{index}]"
        self.current_node = spec.head
        self._closers: list[Callable[[], None]] = []
        self._workers: list[Any] = []  # worker processes, killed if the job ends abnormally
        self.operators: list[ops.Operator] = []
        self.source_out = 0  # records this instance's source produced (metrics, checkpoints)
        self.contexts: dict[int, RuntimeContext] = {}  # per node: whose state a checkpoint takes
        self.source_instance: Any = None
        self.skip = 0  # records the source already produced before the restored checkpoint
        self.functions: dict[int, Any] = {}  # per node: the function object this instance runs

    # -- setup (in the task's own thread, so errors in open() fail the job cleanly) ----------
    def _setup(self) -> None:
        graph = self.job.graph
        self.source_node: g.Node | None = None
        self.source_execute: Callable[[], Any] | None = None
        operators: list[ops.Operator] = []
        node_ids = list(self.spec.nodes)
        process_nodes = [n for n in node_ids if graph.nodes[n].options.get("processes")]
        if process_nodes:
            from sage_client.dataflow.runtime.process_worker import ProcessOperator

            # the planner only chains process nodes with process nodes: this is the whole chain
            worker = ProcessOperator(self.job, [graph.nodes[n] for n in process_nodes], self.index)
            worker.node_id = process_nodes[0]
            self._workers.append(worker)
            operators.append(worker)
            self._closers.append(worker.close)
            node_ids = [n for n in node_ids if n not in process_nodes]
        for node_id in node_ids:
            node = graph.nodes[node_id]
            if node.kind in (g.COLLECTION, g.FUTURE):
                self.source_node = node
                continue
            ctx = self._context(node)
            self.contexts[node_id] = ctx
            reused = self.job.reused_functions.get((node_id, self.index))
            instance = reused if reused is not None else ops.instantiate(node, self.index)
            self.functions[node_id] = instance
            self.current_node = node_id
            ops.bind(instance, ctx)
            self._closers.append(functools.partial(ops.close_function, instance))
            if node.kind == g.SOURCE:
                self.source_node = node
                self.source_instance = instance
                self.source_execute = ops.entry_point(instance)
                continue
            dead_letter = self._dead_letter(node)
            operators.append(
                ops.build_operator(node, instance, ctx, graph.input_count(node_id), dead_letter)
            )
            operators[-1].node_id = node_id
        self.operators = operators
        # ops_from[i]: the operators after position i, precomputed for the hot loop
        self.ops_from = [tuple(operators[i:]) for i in range(len(operators) + 1)]
        self.windows = [
            (i, op.window) for i, op in enumerate(operators) if isinstance(op, ops.WindowAdapter)
        ]
        self.timers = [i for i, op in enumerate(operators) if op.needs_timer]

    def _context(self, node: g.Node) -> RuntimeContext:
        return RuntimeContext(
            job_name=self.job.graph.name,
            operator_name=node.name,
            parallel_index=self.index,
            parallelism=node.parallelism,
            services=self.job.services,
        )

    def _dead_letter(self, node: g.Node) -> Callable[[FailedRecord], Any] | None:
        policy = node.options.get("on_error")
        if isinstance(policy, Retry):
            policy = policy.then
        if not isinstance(policy, DeadLetter):
            return None
        sink_node = g.Node(
            id=-1, kind=g.SINK, name=f"{node.name}.dead_letter", function=policy.sink
        )
        instance = ops.instantiate(sink_node, self.index)
        ops.bind(instance, self._context(sink_node))
        self._closers.append(lambda: self.job.close_once(instance))
        execute = ops.entry_point(instance)
        lock = self.job.dead_letter_lock

        def send(failed: FailedRecord) -> None:
            with lock:  # one sink instance may be shared by every parallel instance
                execute(failed)

        return send

    # -- thread body -------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._setup()
            if self.job.restore_from is not None:
                self._restore(self.job.restore_from)
            head = self.job.graph.nodes[self.spec.head]
            if head.kind == g.FUTURE:
                self._run_future()
            elif self.source_node is not None:
                self._run_source()
            else:
                self._run_consumer()
            self.current_node = self.spec.tail
            for close in self._closers:
                close()
        except JobAborted:
            pass
        except BaseException as exc:  # noqa: BLE001 - every failure must reach submit()/wait()
            node = self.job.graph.nodes[self.current_node]
            self.job.fail(
                exc, f"operator {node.name} (instance {self.index + 1}/{node.parallelism})"
            )
        finally:
            for worker in self._workers:
                worker.kill()
            self.job.task_finished(self)

    def _restore(self, snapshot: dict[str, Any]) -> None:
        for node_id, ctx in self.contexts.items():
            tables = snapshot["state"].get(f"{node_id}:{self.index}")
            if tables:
                ctx.state.restore(tables)
        restored_source = False
        for node_id, instance in self.functions.items():
            state = snapshot.get("functions", {}).get(f"{node_id}:{self.index}")
            restore_state = getattr(instance, "restore_state", None)
            if state is not None and callable(restore_state):
                restore_state(state)  # SAGE's get_state()/restore_state() pair
                restored_source = restored_source or instance is self.source_instance
        if self.channel is None:
            self.source_out = int(snapshot["sources"].get(f"{self.spec.head}:{self.index}", 0))
            # a source that restored its own position, or the very object that ran before
            # (recovery in this process), goes on from where it is; others replay and skip
            in_place = restored_source or (
                self.source_instance is not None
                and self.job.reused_functions.get((self.spec.head, self.index))
                is self.source_instance
            )
            self.skip = 0 if in_place else self.source_out

    def function_states(self) -> dict[str, Any]:
        """``get_state()`` of every function that defines it (SAGE's checkpoint hook)."""
        states = {}
        for node_id, instance in self.functions.items():
            get_state = getattr(instance, "get_state", None)
            if callable(get_state):
                states[f"{node_id}:{self.index}"] = copy.deepcopy(get_state())
        return states

    def _skip_source_records(self) -> None:
        """Resume a function source after a checkpoint: ``restore_position(n)`` when it has one,
        else replay it and drop the records it had already produced (deterministic sources)."""
        seek = getattr(self.source_instance, "restore_position", None)
        if callable(seek):
            seek(self.skip)
            return
        execute = self.source_execute
        assert execute is not None
        dropped = 0
        bounded = bool(self.source_node.options.get("bounded")) if self.source_node else True
        while dropped < self.skip:
            record = execute()
            if record is None:
                if bounded:
                    return
                continue
            dropped += 1

    def _push(self, start: int, values: list[Any], keys: list[Any] | None) -> None:
        op = None
        try:  # free in CPython 3.11+ unless something raises
            for op in self.ops_from[start]:
                op.records_in += len(values)
                values, keys = op.process(values, keys)
                op.records_out += len(values)
                if not values:
                    break
            else:
                self.router.emit(values, keys)  # type: ignore[union-attr]
        except Exception:
            if op is not None:
                self.current_node = op.node_id
            raise
        if self.windows:
            self._emit_late()

    def _emit_late(self) -> None:
        for position, window in self.windows:
            late_v, late_k = window.take_late()
            if late_v and position == len(self.operators) - 1:
                self.router.emit(late_v, late_k, port=1)  # type: ignore[union-attr]

    def _finish(self) -> None:
        for position, op in enumerate(self.operators):
            values, keys = op.finish()
            if values:
                self._push(position + 1, values, keys)
        self.router.end(self.sender_id)  # type: ignore[union-attr]

    def _on_timers(self) -> None:
        now = time.monotonic()
        for position in self.timers:
            values, keys = self.operators[position].on_time(now)
            if values:
                self._push(position + 1, values, keys)

    # -- the three loops ------------------------------------------------------------------------
    def _source_batches(self) -> Iterator[list[Any]]:
        node = self.source_node
        assert node is not None
        job = self.job
        delay = float(node.options.get("delay", 0.0))
        batch_size = 1 if delay else job.batch_size  # a paced source is read record by record
        if node.kind == g.COLLECTION:
            batches = collection_batches(node, self.index, batch_size, self.skip)
        else:
            assert self.source_execute is not None
            if self.skip:
                self._skip_source_records()
            batches = function_batches(
                self.source_execute,
                bool(node.options.get("bounded")),
                batch_size,
                job.linger,
                job.should_stop_sources,
                (lambda: job.pause_requested) if job.checkpointing else None,
            )
        return paced(batches, delay, job.should_stop_sources) if delay else batches

    def _run_source(self) -> None:
        job = self.job
        router = self.router
        assert router is not None
        linger = job.linger
        clock = time.monotonic
        last_flush = clock()
        from_collection = self.source_node is not None and self.source_node.kind == g.COLLECTION
        batches = self._source_batches()
        while True:
            if job.pause_requested:
                job.source_pause_point(self)
            self.current_node = self.spec.head
            batch = next(batches, None)
            if batch is None:
                break
            if not batch:  # the source is idle: send what is buffered now
                router.flush()
                if self.timers:
                    self._on_timers()
                continue
            self.source_out += len(batch)
            self._push(0, batch, None)  # a batch already read is never dropped, even on stop
            now = clock()
            if now - last_flush >= linger:
                router.flush()
                last_flush = now
            if self.timers:
                self._on_timers()
            if from_collection and job.stop_requested:
                break
        self._finish()
        job.source_finished()

    def _next_message(self) -> tuple[int, Any, Any]:
        """Blocks for the next batch; meanwhile flushes outputs and runs timers."""
        channel = self.channel
        assert channel is not None
        try:
            return channel.get_nowait()
        except queue.Empty:
            pass
        self.router.flush()  # type: ignore[union-attr]
        tick = 0.05 if self.timers else 0.1
        while True:
            try:
                return channel.get(tick)
            except queue.Empty:
                if self.job.aborted:
                    raise JobAborted() from None
                if self.timers and not self.job.pause_requested:
                    self._on_timers()
                    self.router.flush()  # type: ignore[union-attr]

    def _run_consumer(self) -> None:
        job = self.job
        router = self.router
        assert router is not None
        operators = self.operators
        head = operators[0]
        multi = (
            head.process_input
            if type(head).process_input is not ops.Operator.process_input
            else None
        )
        tracking = job.tracking
        remaining = self.expected_ends
        linger = job.linger
        clock = time.monotonic
        last_flush = clock()
        while remaining:
            index, values, keys = self._next_message()
            if values is END:
                remaining -= 1
                continue
            if multi is not None:
                self.current_node = self.spec.head
                head.records_in += len(values)
                values, keys = multi(index, values, keys)
                head.records_out += len(values)
                if values:
                    self._push(1, values, keys)
                elif self.windows:
                    self._emit_late()
            else:
                self._push(0, values, keys)
            if tracking:
                router.flush()
                job.inflight_add(-1)
            else:
                now = clock()
                if now - last_flush >= linger:
                    router.flush()
                    last_flush = now
            if job.aborted:
                raise JobAborted()
        self._finish()

    def _run_future(self) -> None:
        """A feedback loop's entry: ends once every source is done and nothing is in flight."""
        job = self.job
        router = self.router
        channel = self.channel
        assert router is not None and channel is not None
        while True:
            try:
                _, values, keys = channel.get(0.005)
            except queue.Empty:
                if job.aborted:
                    raise JobAborted() from None
                if job.quiescent():
                    break
                continue
            if values is END:
                continue
            router.emit(values, keys)
            router.flush()
            job.inflight_add(-1)
        self._finish()
