"""What a running task asks of whatever runs it: the interface between ``TaskInstance`` and
its executor.

The local runtime's ``Job`` hosts every instance of a graph on threads; the Ray executor's
``_ActorJob`` (``sage_kernel.ray_executor``) hosts one instance in an actor. Both declare
``TaskHost``, so mypy checks each against exactly what ``task.TaskInstance`` (and the
``processes=True`` operator) use.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sage_client.dataflow.api import graph as g
    from sage_client.dataflow.runtime.task import TaskInstance
    from sage_client.dataflow.services import ServiceRegistry


class TaskHost(Protocol):
    # -- settings and shared objects, read by the tasks ------------------------------------
    graph: g.LogicalGraph
    services: ServiceRegistry
    batch_size: int  # records per batch a source produces
    linger: float  # seconds a partial batch may wait before it is sent
    tracking: bool  # in-flight batches are counted (feedback loops, checkpoints)
    checkpointing: bool  # sources honour pause_requested between batches
    restore_from: dict[str, Any] | None  # a checkpoint snapshot the tasks resume from
    reused_functions: dict[tuple[int, int], Any]  # (node, index) -> function of a failed run
    dead_letter_lock: threading.Lock  # one dead-letter sink may serve every instance

    # -- flags the tasks poll ----------------------------------------------------------------
    aborted: bool  # the job failed elsewhere or was cancelled: drop everything
    stop_requested: bool  # graceful stop: collection sources end their streams
    pause_requested: bool  # a checkpoint is being taken: sources wait at source_pause_point

    # -- calls from the tasks ------------------------------------------------------------------
    def should_stop_sources(self) -> bool:
        """Function sources end their stream when this turns true."""
        ...

    def source_pause_point(self, instance: TaskInstance) -> None:
        """A source between two batches while ``pause_requested``: held until resumed."""
        ...

    def source_finished(self) -> None:
        """A source instance produced its last batch."""
        ...

    def inflight_add(self, delta: int) -> None:
        """With ``tracking``: a consumer took a batch (-1) off its channel."""
        ...

    def quiescent(self) -> bool:
        """Every source is done and no batch is in flight: a feedback loop may end."""
        ...

    def fail(self, exc: BaseException, where: str) -> None:
        """A task failed (``where``: the operator and instance); the job aborts."""
        ...

    def close_once(self, function: Any) -> None:
        """Close a user function shared by several instances (a dead-letter sink) once."""
        ...

    def task_finished(self, instance: TaskInstance) -> None:
        """The instance's thread ends (after success, failure or abort)."""
        ...
