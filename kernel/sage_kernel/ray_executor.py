"""The Ray executor: every operator-chain instance of the plan is a Ray actor.

The plan is the local runtime's (same chaining), and each actor runs the local runtime's
``TaskInstance`` operator code. What differs is the wire: an output edge's destinations are
``ActorChannel``s, which send whole batches with ``actor.push.remote`` and keep at most
``MAX_IN_FLIGHT`` calls outstanding per destination (``ray.wait``), so a slow consumer holds its
producers back. Ray runs calls from one caller to one actor in order, which keeps each
upstream instance's batches, and its end marker, in order.

Not supported here (GraphError at submit): feedback loops (from_future) and ``processes=True``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import time
from typing import Any

import cloudpickle
import ray

from sage_client.credentials import MEMBER_CREDENTIAL_ENV
from sage_client.dataflow.api import graph as g
from sage_client.dataflow.runtime import operators as ops
from sage_client.dataflow.runtime.channel import END, OutputEdge, Router
from sage_client.dataflow.runtime.host import TaskHost
from sage_client.dataflow.runtime.job import runtime_settings
from sage_client.dataflow.runtime.planner import GraphError, TaskSpec, plan
from sage_client.dataflow.runtime.task import TaskInstance
from sage_client.dataflow.services import ServiceRegistry
from sage_kernel import collect

MAX_RECOVERIES = 3  # times a job re-creates its actors after losing some (a node died)
RECOVERY_SETTLE_S = 1.0  # lets Ray's health checks mark a dead node dead before re-placing
MAX_IN_FLIGHT = 4  # push calls outstanding per (sender, destination) pair
SOURCE_STEP_S = 0.2  # how long one source_step call produces before it returns
POLL_S = 0.05


def _settings(graph: g.LogicalGraph) -> dict[str, Any]:
    return runtime_settings(graph.config)


def check_supported(graph: g.LogicalGraph) -> None:
    for node in graph.nodes.values():
        if node.kind == g.FUTURE:
            raise GraphError(
                f"{node.name}: feedback loops (from_future) run only on the local executor"
            )
        if node.options.get("processes"):
            raise GraphError(
                f"{node.name}: processes=True is for the local executor; on Ray every chain is "
                "already its own process (drop processes=True)"
            )


class ActorChannel:
    """The sending side of one edge to one actor: a batch per call, bounded calls in flight."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.in_flight: list[Any] = []

    def put(self, message: tuple[int, Any, Any]) -> None:
        index, values, keys = message
        if values is END:
            ref = self.actor.push_end.remote(index, keys)  # keys holds the sender id here
        else:
            ref = self.actor.push.remote(index, values, keys)
        self.in_flight.append(ref)
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            done, self.in_flight = ray.wait(self.in_flight, num_returns=1)
            ray.get(done)  # a failed consumer fails its producers

    def drain(self) -> None:
        ray.get(self.in_flight)
        self.in_flight = []


class _ActorJob(TaskHost):
    """The TaskHost of one instance living in an actor. No feedback loops and no checkpoints
    here (``check_supported``): nothing is tracked and sources never pause."""

    def __init__(self, graph: g.LogicalGraph, settings: dict[str, Any]) -> None:
        self.graph = graph
        self.batch_size = int(settings["batch_size"])
        self.linger = float(settings["linger_ms"]) / 1000.0
        self.services = ServiceRegistry(graph.services, job_name=graph.name)
        self.tracking = False
        self.restore_from: dict[str, Any] | None = None  # checkpoints: a local-executor feature
        self.reused_functions: dict[tuple[int, int], Any] = {}  # in-place recovery: local only
        self.checkpointing = False
        self.pause_requested = False
        self.aborted = False
        self.stop_requested = False
        self.error: BaseException | None = None
        self.dead_letter_lock = threading.Lock()
        self._closed: set[int] = set()

    def should_stop_sources(self) -> bool:
        return self.stop_requested or self.aborted

    def fail(self, exc: BaseException, where: str) -> None:
        if self.error is None:
            exc.add_note(f"raised in {where} of job {self.graph.name!r} (ray executor)")
            self.error = exc
        self.aborted = True

    def close_once(self, function: Any) -> None:
        if id(function) not in self._closed:
            self._closed.add(id(function))
            ops.close_function(function)

    def source_pause_point(self, instance: TaskInstance) -> None:
        pass  # pause_requested never turns true here

    def source_finished(self) -> None:
        pass

    def inflight_add(self, delta: int) -> None:
        pass  # tracking is off

    def quiescent(self) -> bool:
        return True  # no feedback loops, so no future waits on this

    def task_finished(self, instance: TaskInstance) -> None:
        pass


class _Captured(io.TextIOBase):
    """The actor's stdout: kept in memory and handed to the driver, so prints keep their order
    and carry no Ray prefix."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        with self.lock:
            self.parts.append(text)
        return len(text)

    def take(self) -> str:
        with self.lock:
            text, self.parts = "".join(self.parts), []
        return text


@ray.remote
class ChainActor:
    """Created empty (a standby worker creates some before any job: an actor's process start is
    the slow part of a Ray job), then given its chain with ``setup``."""

    def __init__(self) -> None:
        self.stdout = _Captured()
        sys.stdout = self.stdout

    def ready(self) -> bool:
        return True

    def setup(
        self, graph_bytes: bytes, spec: TaskSpec, index: int, mesh_env: dict[str, str]
    ) -> None:
        # The job's mesh settings before its code loads: a Ray worker process inherits the
        # raylet's environment, not the job worker's (and a standby's actors exist before the
        # job does), so the submitter's token and the service addresses come with the job.
        for name in MEMBER_CREDENTIAL_ENV:  # the cluster's own environment may hold them
            os.environ.pop(name, None)
        os.environ.update(mesh_env)
        graph: g.LogicalGraph = cloudpickle.loads(graph_bytes)
        self.job = _ActorJob(graph, _settings(graph))
        self.task = TaskInstance(self.job, spec, index, None)
        self.remaining = sum(graph.nodes[e.src].parallelism for e in spec.inputs)
        self.finished = False
        self.channels: list[ActorChannel] = []
        self.batches: Any = None  # a source's batch iterator, consumed step by step

    def open(self, targets: dict[int, list[Any]], target_spec_of_node: dict[int, int]) -> None:
        """Wire output edges to the downstream actors, then open the user functions."""
        task, job = self.task, self.job
        ports: dict[int, list[OutputEdge]] = {}
        for edge in task.spec.outputs:
            actors = targets[target_spec_of_node[edge.dst]]
            channels = [ActorChannel(a) for a in actors]
            self.channels.extend(channels)
            one_to_one = edge.partition == g.FORWARD and len(actors) == task.spec.parallelism
            ports.setdefault(edge.src_port, []).append(
                OutputEdge(edge, channels, task.index, job.batch_size, None, one_to_one)  # type: ignore[arg-type]
            )
        task.router = Router(ports)
        job.services.start()
        task._setup()

    def _drain(self) -> None:
        self.task.router.flush()  # type: ignore[union-attr]
        for channel in self.channels:
            channel.drain()

    def _end(self) -> None:
        self.task._finish()  # operators flush (windows fire), then end markers go downstream
        self._drain()
        for close in self.task._closers:
            close()
        self.job.services.close()
        self.finished = True

    def _noted(self, exc: BaseException) -> BaseException:
        node = self.job.graph.nodes[self.task.current_node]
        exc.add_note(
            f"raised in operator {node.name} (instance {self.task.index + 1}/{node.parallelism}) "
            f"of job {self.job.graph.name!r} (ray executor)"
        )
        return exc

    def source_step(self, budget_s: float) -> tuple[bool, str, dict[int, tuple[int, int]]]:
        """Produce batches for about ``budget_s`` seconds, then return what ``poll`` returns:
        the driver calls it again until the stream has ended, so a source actor is never busy
        for long and its prints, counters and a cancel get through."""
        try:
            self._source_step(budget_s)
        except Exception as exc:
            raise self._noted(exc) from None
        return self.poll()

    def push(self, index: int, values: list[Any], keys: list[Any] | None) -> None:
        try:
            self._push(index, values, keys)
        except Exception as exc:
            raise self._noted(exc) from None

    def push_end(self, index: int, sender: int) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            try:
                self._end()
            except Exception as exc:
                raise self._noted(exc) from None

    def _source_step(self, budget_s: float) -> None:
        task = self.task
        if self.batches is None:
            self.batches = task._source_batches()
        deadline = time.monotonic() + budget_s
        for batch in self.batches:
            if batch:
                task.source_out += len(batch)
                task._push(0, batch, None)
            task.router.flush()  # type: ignore[union-attr]
            if time.monotonic() >= deadline:
                return
        self._end()

    def _push(self, index: int, values: list[Any], keys: list[Any] | None) -> None:
        task = self.task
        head = task.operators[0]
        if type(head).process_input is not ops.Operator.process_input:
            head.records_in += len(values)
            values, keys = head.process_input(index, values, keys)
            head.records_out += len(values)
            if values:
                task._push(1, values, keys)
        else:
            task._push(0, values, keys)
        task.router.flush()  # type: ignore[union-attr]

    def poll(self) -> tuple[bool, str, dict[int, tuple[int, int]]]:
        """(finished, captured stdout, {node: (records in, records out)})."""
        counts = {op.node_id: (op.records_in, op.records_out) for op in self.task.operators}
        if self.task.channel is None and self.task.source_node is not None:
            counts[self.task.spec.head] = (0, self.task.source_out)
        return self.finished, self.stdout.take(), counts

    def take_collected(self) -> list[Any]:
        # through the module: Ray pickles actor classes by value, globals included
        return collect.COLLECTOR.take()


def job_mesh_env() -> dict[str, str]:
    """What this worker's functions know of the mesh, for its actors: every ``SAGE_*`` variable
    of the worker (the submitter's ``SAGE_TOKEN``, ``SAGE_ETCD_ENDPOINTS``,
    ``SAGE_<SERVICE>_ADDR``, ...). The worker's environment never holds the manager's
    credentials (``identity.worker_env`` removed them); this drops them again in case."""
    return {
        k: v
        for k, v in os.environ.items()
        if k.startswith("SAGE_") and k not in MEMBER_CREDENTIAL_ENV
    }


# Actors this process created ahead of a job, and the cluster it is connected to.
_PRESTARTED: list[Any] = []
_CONNECTED: list[str | None] = []


def _connect(address: str | None) -> None:
    if _CONNECTED and _CONNECTED[0] == address and ray.is_initialized():
        return
    if ray.is_initialized():  # connected to another cluster: its actors are of no use here
        _PRESTARTED.clear()
        ray.shutdown()
    ray.init(
        address=address,
        include_dashboard=False,
        log_to_driver=False,  # actors' prints come back through poll(), in order
        configure_logging=False,
    )
    _CONNECTED[:] = [address]


def prestart(address: str, count: int) -> None:
    """For a standby worker: connect to the cluster at ``address`` and start ``count`` empty
    actors, so the job this process will run skips process start-up."""
    _connect(address)
    actors = [ChainActor.remote() for _ in range(count)]  # type: ignore[attr-defined]
    ray.get([a.ready.remote() for a in actors])
    _PRESTARTED.extend(actors)


def _actor(placement: dict[str, Any] | None = None, recovering: bool = False) -> Any:
    """An actor for one chain instance. ``placement``: the instance's ``PlacementDecision``
    (``node.options["placement"][index]``, set by a SAGE scheduler at submit): its
    ``target_node`` (a Ray node id) pins the actor there, its ``resource_requirements``
    reserve what it asks (cpu, gpu, memory; any other key is a Ray custom resource, the label
    ``ray start --resources`` gives a node); a placed actor is never a standby one.
    ``recovering``: re-created after a node was lost, when a pin to a node that is gone, or a
    custom resource no live node has left, places the actor freely instead of waiting forever."""
    options = _actor_options(placement, recovering) if placement else {}
    if not options:
        return _PRESTARTED.pop() if _PRESTARTED else ChainActor.remote()  # type: ignore[attr-defined]
    return ChainActor.options(**options).remote()  # type: ignore[attr-defined]


def _actor_options(placement: dict[str, Any], recovering: bool = False) -> dict[str, Any]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    options: dict[str, Any] = {}
    node = placement.get("target_node")
    if node and node in {n["NodeID"] for n in ray.nodes() if n.get("Alive")}:
        # soft when recovering: the node may be dying without the GCS knowing it yet
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
            node_id=node, soft=recovering
        )
    elif node:
        print(f"[sage] placement: {node!r} is not a live Ray node; placing freely", file=sys.stderr)
    need = dict(placement.get("resource_requirements") or {})
    if need.get("cpu"):
        options["num_cpus"] = float(need.pop("cpu"))
    if need.get("gpu"):
        options["num_gpus"] = float(need.pop("gpu"))
    memory = need.pop("memory", None)
    if isinstance(memory, int | float) and memory:
        options["memory"] = int(memory)
    custom = {k: float(v) for k, v in need.items() if isinstance(v, int | float) and v}
    if custom and recovering:
        live = ray.cluster_resources()
        for name in [k for k in custom if k not in live]:
            print(
                f"[sage] placement: no live Ray node has {name!r}; placing freely", file=sys.stderr
            )
            custom.pop(name)
    if custom:
        options["resources"] = custom
        # Ray holds 1 CPU for an actor that names resources but no CPUs, which a node's label
        # must not cost: two instances placed by label on a 1-CPU node would wait for each other
        options.setdefault("num_cpus", 0)
    return options


def _lost(exc: BaseException) -> bool:
    """Whether ``exc`` says an actor (its process or its node) is gone, not a user error."""
    lost = (
        ray.exceptions.RayActorError,
        ray.exceptions.ObjectLostError,
        ray.exceptions.WorkerCrashedError,
    )
    if isinstance(exc, ray.exceptions.RayTaskError):
        return isinstance(getattr(exc, "cause", None), lost)
    return isinstance(exc, lost)


class RayJob:
    """Drives the actors of one job from the worker process (``wait``, ``cancel``, ``metrics``)."""

    def __init__(
        self, graph: g.LogicalGraph, address: str | None, tasks: list[TaskSpec] | None = None
    ) -> None:
        """``tasks``: the graph already planned with its chaining setting (the worker's)."""
        check_supported(graph)
        settings = _settings(graph)
        _connect(address)
        self.graph = graph
        self.specs = (
            tasks if tasks is not None else plan(graph, chaining=bool(settings["chaining"]))
        )
        self._cancelled = False
        self._counts: dict[int, dict[int, tuple[int, int]]] = {}
        self._graph_ref = cloudpickle.dumps(graph)
        self.recoveries = 0
        self._build()

    def _build(self) -> None:
        """Create, set up and wire one actor per chain instance."""
        graph, graph_ref, recovering = self.graph, self._graph_ref, self.recoveries > 0
        self.actors: dict[int, list[Any]] = {
            spec.id: [
                _actor(graph.nodes[spec.head].options.get("placement", {}).get(i), recovering)
                for i in range(spec.parallelism)
            ]
            for spec in self.specs
        }
        mesh_env = job_mesh_env()
        ray.get(
            [
                actor.setup.remote(graph_ref, spec, i, mesh_env)
                for spec in self.specs
                for i, actor in enumerate(self.actors[spec.id])
            ]
        )
        spec_of_node = {n: spec.id for spec in self.specs for n in spec.nodes}
        ray.get(
            [
                actor.open.remote(self.actors, spec_of_node)
                for actors in self.actors.values()
                for actor in actors
            ]
        )
        sources = [s for s in self.specs if not s.inputs]
        self._sources = [self._all().index(a) for s in sources for a in self.actors[s.id]]

    def _all(self) -> list[Any]:
        return [a for actors in self.actors.values() for a in actors]

    def _report(self, i: int, out: str, counts: dict[int, tuple[int, int]]) -> None:
        if out:
            sys.stdout.write(out)
            sys.stdout.flush()
        self._counts[i] = counts

    def _poll(self, skip: frozenset[int] = frozenset()) -> bool:
        """Prints what the actors printed and keeps their counters; True once all have ended."""
        polled = [(i, a) for i, a in enumerate(self._all()) if i not in skip]
        finished = True
        for (i, _), (done, out, counts) in zip(
            polled, ray.get([a.poll.remote() for _, a in polled]), strict=True
        ):
            self._report(i, out, counts)
            finished = finished and done
        return finished

    def wait(self) -> None:
        """Run the job to its end. When actors are lost (their node died: ``_lost``), every
        actor of the job is re-created (placed again, on the nodes still alive) and the job
        runs again from its sources, up to ``MAX_RECOVERIES`` times: the Ray executor keeps no
        checkpoints, so a sink with side effects sees the records of the lost run again
        (at-least-once); the collected result is the last run's alone."""
        lost: BaseException | None = None
        try:
            while True:
                try:
                    if lost is not None:
                        self._recover(lost)  # may lose actors again: a dying node took them
                    self._run()
                    return
                except Exception as exc:
                    if self._cancelled:
                        return
                    if not _lost(exc) or self.recoveries >= MAX_RECOVERIES:
                        raise
                    lost = exc
        finally:
            self._kill()

    def _recover(self, exc: BaseException) -> None:
        self.recoveries += 1
        print(
            f"[sage] ray: actors lost ({type(exc).__name__}); re-creating the job's "
            f"{len(self._all())} actors and running it again "
            f"(recovery {self.recoveries}/{MAX_RECOVERIES})",
            flush=True,
        )
        self._kill()
        time.sleep(RECOVERY_SETTLE_S)
        _PRESTARTED.clear()  # standby actors may have been on the lost node too
        self._counts.clear()
        self._build()

    def _run(self) -> None:
        actors = self._all()
        sources = frozenset(self._sources)
        try:
            steps = {actors[i].source_step.remote(SOURCE_STEP_S): i for i in self._sources}
            while steps:
                done, _ = ray.wait(list(steps), num_returns=1, timeout=POLL_S)
                for ref in done:
                    i = steps.pop(ref)
                    ended, out, counts = ray.get(ref)  # a user-function error is raised here
                    self._report(i, out, counts)
                    if not ended and not self._cancelled:
                        steps[actors[i].source_step.remote(SOURCE_STEP_S)] = i
                self._poll(skip=sources)
            while not self._poll():
                time.sleep(POLL_S)
            for records in ray.get([a.take_collected.remote() for a in self._all()]):
                collect.COLLECTOR.extend(records)
        except ray.exceptions.RayTaskError as exc:
            if self._cancelled or _lost(exc):
                raise  # wait() decides
            raise exc.as_instanceof_cause() from None

    def cancel(self) -> None:
        self._cancelled = True
        self._kill()

    def _kill(self) -> None:
        for actor in self._all():
            with contextlib.suppress(Exception):  # an actor of a dead node may be unreachable
                ray.kill(actor)

    def metrics(self) -> dict[str, Any]:
        acc: dict[int, list[int]] = {}
        for counts in list(self._counts.values()):
            for node, (n_in, n_out) in counts.items():
                slot = acc.setdefault(node, [0, 0])
                slot[0] += n_in
                slot[1] += n_out
        return {
            "operators": [
                {
                    "operator_id": str(n),
                    "records_in": c[0],
                    "records_out": c[1],
                    "errors": 0,
                    "backlog": 0,
                }
                for n, c in sorted(acc.items())
            ]
        }


def run_on_ray(
    graph: g.LogicalGraph, address: str | None, tasks: list[TaskSpec] | None = None
) -> RayJob:
    """Start ``graph`` on Ray (``address`` of a cluster, or None for a local Ray); ``tasks``:
    its plan, when the caller has it."""
    return RayJob(graph, address, tasks)
