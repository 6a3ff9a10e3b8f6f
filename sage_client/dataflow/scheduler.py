"""Placement: SAGE's ``BaseScheduler`` / ``PlacementDecision`` / ``NodeSelector``.

At submit the environment asks its scheduler for one ``PlacementDecision`` per operator
instance (``plan_placement``). ``LocalEnvironment`` runs everything in this process, so it
only records the decisions (the default scheduler hands out its nodes round robin, and here
there is one: ``"local"``); the job manager's Ray executor pins each instance's actor to the
decision's ``target_node`` and reserves its ``resource_requirements``.
"""

from __future__ import annotations

import itertools
import os
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sage_client.dataflow.api import graph as g
    from sage_client.dataflow.api.transformations import Transformation

LOCAL_NODE = "local"


@dataclass
class PlacementDecision:
    """Where (``target_node``: a node id, None = anywhere) and with what
    (``resource_requirements``: ``{"cpu": 1, "gpu": 0, "memory": ...}``) an instance runs."""

    target_node: str | None = None
    resource_requirements: dict[str, Any] | None = None
    delay: float = 0.0
    immediate: bool = True
    placement_strategy: str = "default"
    affinity_tasks: list[str] | None = None
    anti_affinity_tasks: list[str] | None = None
    reason: str = ""
    priority: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlacementDecision:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def immediate_default(cls, reason: str = "") -> PlacementDecision:
        return cls(reason=reason or "default placement")

    @classmethod
    def with_resources(
        cls,
        cpu: int | None = None,
        gpu: int | None = None,
        memory: int | str | None = None,
        reason: str = "",
        **resources: Any,
    ) -> PlacementDecision:
        need = {k: v for k, v in {"cpu": cpu, "gpu": gpu, "memory": memory}.items() if v}
        need.update(resources)
        return cls(resource_requirements=need, placement_strategy="resource", reason=reason)

    @classmethod
    def with_node(cls, node_id: str, reason: str = "", **kwargs: Any) -> PlacementDecision:
        return cls(target_node=node_id, placement_strategy="node", reason=reason, **kwargs)

    @classmethod
    def with_delay(cls, delay_seconds: float, reason: str = "") -> PlacementDecision:
        return cls(delay=delay_seconds, immediate=False, reason=reason)


@dataclass(frozen=True)
class TaskNode:
    """What a scheduler is asked about: one parallel instance of one operator."""

    name: str  # <basename>_<parallel_index>, SAGE's physical node name
    transformation: Transformation
    parallel_index: int
    parallelism: int


@dataclass
class NodeResources:
    node_id: str
    hostname: str
    address: str
    total_cpu: float
    total_gpu: float
    total_memory: int
    custom_resources: dict[str, float] = field(default_factory=dict)
    available_cpu: float = 0.0
    available_gpu: float = 0.0
    available_memory: int = 0
    task_count: int = 0
    alive: bool = True

    def can_fit(self, cpu: float = 0, gpu: float = 0, memory: int = 0) -> bool:
        return (
            self.alive
            and self.available_cpu >= cpu
            and self.available_gpu >= gpu
            and self.available_memory >= memory
        )


def _ray_nodes() -> list[NodeResources] | None:
    try:
        import ray  # optional: only when a Ray runtime is already up in this process
    except ImportError:
        return None
    if not ray.is_initialized():
        return None
    nodes = []
    for info in ray.nodes():
        if not info.get("Alive"):
            continue
        res = info.get("Resources", {})
        nodes.append(
            NodeResources(
                node_id=info["NodeID"],
                hostname=info.get("NodeManagerHostname", ""),
                address=info.get("NodeManagerAddress", ""),
                total_cpu=float(res.get("CPU", 0)),
                total_gpu=float(res.get("GPU", 0)),
                total_memory=int(res.get("memory", 0)),
                available_cpu=float(res.get("CPU", 0)),
                available_gpu=float(res.get("GPU", 0)),
                available_memory=int(res.get("memory", 0)),
            )
        )
    return nodes


def _local_node() -> NodeResources:
    cpus = float(os.cpu_count() or 1)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 0
    return NodeResources(
        node_id=LOCAL_NODE,
        hostname=os.uname().nodename,
        address="127.0.0.1",
        total_cpu=cpus,
        total_gpu=0.0,
        total_memory=memory,
        available_cpu=cpus,
        available_memory=memory,
    )


class NodeSelector:
    """The nodes a job can run on (the Ray cluster's when Ray is up here, else this machine)
    and the usual ways of picking one; placements are tracked so spreading sees them."""

    def __init__(self, nodes: list[NodeResources] | None = None, enable_tracking: bool = True):
        self._nodes = nodes
        self.enable_tracking = enable_tracking
        self._placements: dict[str, str] = {}
        self._spread = itertools.count()
        self._lock = threading.Lock()

    def get_all_nodes(self) -> list[NodeResources]:
        nodes = self._nodes if self._nodes is not None else (_ray_nodes() or [_local_node()])
        for node in nodes:
            node.task_count = self.get_node_task_count(node.node_id)
        return nodes

    def get_node(self, node_id: str) -> NodeResources | None:
        return next((n for n in self.get_all_nodes() if n.node_id == node_id), None)

    def select_best_node(
        self,
        cpu_required: float = 0,
        gpu_required: float = 0,
        memory_required: int = 0,
        custom_resources: dict[str, float] | None = None,
        strategy: str = "balanced",
        exclude_nodes: list[str] | None = None,
    ) -> str | None:
        """The fitting node with the fewest tasks (``strategy="pack"``: the most)."""
        fitting = [
            n
            for n in self.get_all_nodes()
            if n.node_id not in (exclude_nodes or [])
            and n.can_fit(cpu_required, gpu_required, memory_required)
            and all(n.custom_resources.get(k, 0) >= v for k, v in (custom_resources or {}).items())
        ]
        if not fitting:
            return None
        pick = max if strategy == "pack" else min
        return pick(fitting, key=lambda n: n.task_count).node_id

    def select_least_loaded_node(self) -> str | None:
        return self.select_best_node()

    def select_node_with_gpu(self, min_gpu_count: float = 1) -> str | None:
        return self.select_best_node(gpu_required=min_gpu_count)

    def select_spread_node(self) -> str | None:
        nodes = [n for n in self.get_all_nodes() if n.alive]
        return nodes[next(self._spread) % len(nodes)].node_id if nodes else None

    def select_pack_node(
        self, cpu_required: float = 0, gpu_required: float = 0, memory_required: int = 0
    ) -> str | None:
        return self.select_best_node(cpu_required, gpu_required, memory_required, strategy="pack")

    def track_task_placement(self, task_name: str, node_id: str) -> None:
        if self.enable_tracking:
            with self._lock:
                self._placements[task_name] = node_id

    def untrack_task(self, task_name: str) -> None:
        with self._lock:
            self._placements.pop(task_name, None)

    def get_node_task_count(self, node_id: str) -> int:
        with self._lock:
            return sum(1 for n in self._placements.values() if n == node_id)

    def get_cluster_stats(self) -> dict[str, Any]:
        nodes = self.get_all_nodes()
        return {
            "node_count": len(nodes),
            "total_cpu": sum(n.total_cpu for n in nodes),
            "total_gpu": sum(n.total_gpu for n in nodes),
            "tasks_placed": len(self._placements),
        }


class BaseScheduler(ABC):
    """Decides one ``PlacementDecision`` per operator instance (``make_decision``) and per
    service (``make_service_decision``); keeps counts for ``get_metrics``."""

    def __init__(self) -> None:
        self.scheduled_count = 0
        self.decisions: dict[str, PlacementDecision] = {}

    @abstractmethod
    def make_decision(self, task_node: Any) -> PlacementDecision: ...

    def make_service_decision(self, service_node: Any) -> PlacementDecision:
        return PlacementDecision.immediate_default("service: default placement")

    def task_completed(self, task_name: str) -> None:
        self.decisions.pop(task_name, None)

    def get_metrics(self) -> dict[str, Any]:
        return {
            "scheduler_type": type(self).__name__,
            "total_scheduled": self.scheduled_count,
            "placements": {k: v.target_node for k, v in self.decisions.items()},
        }

    def shutdown(self) -> None:
        self.decisions.clear()


class FIFOScheduler(BaseScheduler):
    """The default: instances in declaration order, nodes handed out round robin."""

    def __init__(self, node_selector: NodeSelector | None = None) -> None:
        super().__init__()
        self.node_selector = node_selector or NodeSelector()

    def make_decision(self, task_node: Any) -> PlacementDecision:
        node = self.node_selector.select_spread_node()
        return PlacementDecision.with_node(node or LOCAL_NODE, reason="round robin")


class LoadAwareScheduler(FIFOScheduler):
    """The node with the fewest tasks placed so far."""

    def make_decision(self, task_node: Any) -> PlacementDecision:
        node = self.node_selector.select_least_loaded_node()
        return PlacementDecision.with_node(node or LOCAL_NODE, reason="least loaded")


SCHEDULERS: dict[str, type[BaseScheduler]] = {
    "fifo": FIFOScheduler,
    "load_aware": LoadAwareScheduler,
}


def make_scheduler(spec: str | BaseScheduler | None) -> BaseScheduler:
    if spec is None:
        return FIFOScheduler()
    if isinstance(spec, BaseScheduler):
        return spec
    if isinstance(spec, str) and spec in SCHEDULERS:
        return SCHEDULERS[spec]()
    raise ValueError(
        f"scheduler must be one of {sorted(SCHEDULERS)} or a BaseScheduler, got {spec!r}"
    )


def plan_placement(
    graph: g.LogicalGraph, scheduler: BaseScheduler
) -> dict[tuple[int, int], PlacementDecision]:
    """Ask ``scheduler`` about every instance of every operator: ``(node_id, index) ->
    decision``. A scheduler's error names the instance it was deciding."""
    from sage_client.dataflow.api.transformations import transformations

    plan: dict[tuple[int, int], PlacementDecision] = {}
    for t in transformations(graph):
        for index in range(t.parallelism):
            task = TaskNode(f"{t.basename}_{index}", t, index, t.parallelism)
            try:
                decision = scheduler.make_decision(task)
            except Exception as exc:
                exc.add_note(f"while {type(scheduler).__name__} placed {task.name}")
                raise
            if not isinstance(decision, PlacementDecision):
                raise TypeError(
                    f"{type(scheduler).__name__}.make_decision({task.name}) returned "
                    f"{decision!r}; it must return a PlacementDecision"
                )
            scheduler.scheduled_count += 1
            scheduler.decisions[task.name] = decision
            if decision.target_node and hasattr(scheduler, "node_selector"):
                scheduler.node_selector.track_task_placement(task.name, decision.target_node)
            plan[(t.node_id, index)] = decision
    return plan
