"""``python -m sage_kernel.worker JOB_DIR``: runs one job apart from the manager.

The worker rebuilds the graph from ``graph.pb`` (user code is unpickled here, never in the
manager), writes ``loaded`` once it is ready to run, runs it on the chosen executor, and writes
``outcome.json`` (and ``result.json`` for collect_result: JSON records, so nobody unpickles
what a job left behind) before it exits. Its stdout and stderr are the job's log lines. Exit
codes: 0 succeeded, 1 failed, 3 the graph could not be loaded.

It runs as the manager's ``worker_user`` (see ``sage_kernel.identity``), started in the jobs
folder, and calls mesh services with its submitter's token (``SAGE_TOKEN``), never the
manager's credentials.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import threading
import traceback
from typing import Any

import cloudpickle

from sage_client.dataflow.runtime.job import runtime_settings
from sage_client.dataflow.runtime.planner import GraphError, TaskSpec, plan
from sage_client.remote.graph_codec import GraphDecodingError, decode_graph
from sage_client.remote.result_codec import ResultEncodingError, encode_record
from sage_kernel.collect import COLLECTOR, collect_sinks
from sage_kernel.job_folder import JobFolder
from sage_kernel.store import write_atomic
from sage_proto.kernel.v1 import kernel_pb2

EXIT_FAILED = 1
EXIT_UNLOADABLE = 3
EXIT_CANCELLED = 143
METRICS_PERIOD_S = 0.5


def _outcome(folder: JobFolder, state: str, error: str = "", reason: str = "") -> None:
    body = {"state": state, "error": error, "reason": reason}
    write_atomic(folder.outcome, json.dumps(body).encode())


def _write_result(folder: JobFolder, records: list[Any]) -> None:
    """``result.json``: {"records": [JSON text...]} or {"error": why they cannot be returned}."""
    try:
        body: dict[str, Any] = {"records": [encode_record(r) for r in records]}
    except ResultEncodingError as exc:
        body = {"error": f"the job's collected records cannot be returned as JSON: {exc}"}
    write_atomic(folder.result, json.dumps(body).encode())


def _format(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


class Checkpoints:
    """Epoch snapshots in ``checkpoint.pkl``: source positions, keyed and window state, and
    the records collected so far. A restarted worker resumes from the last one."""

    def __init__(self, folder: JobFolder, interval_s: float) -> None:
        self.path = folder.checkpoint
        self.interval_s = interval_s
        self.taken = 0
        self.epoch = 0

    def load(self) -> dict[str, Any] | None:
        try:
            saved: dict[str, Any] = cloudpickle.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        self.epoch = int(saved["epoch"])
        COLLECTOR.replace(saved["snapshot"]["extra"] or [])
        print(f"[sage] resuming from checkpoint epoch {self.epoch}", file=sys.stderr, flush=True)
        return dict(saved["snapshot"])

    def run(self, job: Any, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            snapshot = job.checkpoint(
                timeout=max(10.0, self.interval_s), while_paused=COLLECTOR.copy
            )
            if snapshot is None:
                continue  # the job did not go quiet in time (or is ending): try next period
            try:
                data = cloudpickle.dumps({"epoch": self.epoch + 1, "snapshot": snapshot})
            except Exception as exc:  # noqa: BLE001 - state the user put there may not pickle
                print(
                    f"[sage] checkpoints disabled: state cannot be pickled: {exc!r}",
                    file=sys.stderr,
                )
                return
            write_atomic(self.path, data)
            self.epoch += 1
            self.taken += 1


def _write_metrics(folder: JobFolder, job: Any, checkpoints: Checkpoints | None) -> None:
    body = job.metrics() if hasattr(job, "metrics") else {}
    body["checkpoints"] = checkpoints.taken if checkpoints is not None else 0
    write_atomic(folder.metrics, json.dumps(body).encode())


def _report_metrics(
    folder: JobFolder, job: Any, checkpoints: Checkpoints | None, stop: threading.Event
) -> None:
    while not stop.wait(METRICS_PERIOD_S):
        _write_metrics(folder, job, checkpoints)


def _plan(graph: Any) -> list[TaskSpec]:
    """The one plan of the job, handed to its executor. GraphError: the submitter's to fix."""
    try:
        chaining = bool(runtime_settings(graph.config)["chaining"])
    except (ValueError, TypeError, AttributeError):
        chaining = True  # a bad setting fails the job when the executor starts, as it always has
    return plan(graph, chaining=chaining)


def _start(
    request: kernel_pb2.SubmitJobRequest,
    graph: Any,
    tasks: list[TaskSpec],
    checkpoints: Checkpoints | None,
) -> Any:
    if request.executor == "ray":
        from sage_kernel.ray_executor import run_on_ray  # Ray is imported only by Ray jobs

        return run_on_ray(graph, request.ray_address or None, tasks)
    from sage_client.dataflow.runtime import run_graph

    if checkpoints is None:
        return run_graph(graph, config=graph.config, tasks=tasks)
    restore = checkpoints.load()
    return run_graph(graph, config=graph.config, restore=restore, checkpointing=True, tasks=tasks)


PRESTARTED_ACTORS = 2


def standby(executor: str, ray_address: str = "") -> int:
    """A pre-started worker: the heavy imports happen before any job exists (and, for a known
    Ray cluster, the connection and a few empty actors), then it waits on stdin for the job
    folder and becomes that job's worker (its own process, as always)."""
    import sage_client.dataflow.runtime  # noqa: F401 - warming the import cache is the point

    if executor == "ray":
        from sage_kernel import ray_executor

        if ray_address:
            ray_executor.prestart(ray_address, PRESTARTED_ACTORS)
    line = sys.stdin.readline().strip()
    if not line:
        return 0  # the manager went away without handing over a job
    folder = JobFolder(line)
    token = sys.stdin.readline().strip()  # the submitter's (a standby starts before any job)
    if token:
        os.environ["SAGE_TOKEN"] = token
    log = os.open(folder.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    return run(folder)


def main(argv: list[str]) -> int:
    faulthandler.enable()  # a crash in native code leaves its Python stack in worker.log
    if argv[1] == "--standby":
        return standby(*argv[2:4])
    return run(JobFolder(argv[1]))


def run(folder: JobFolder) -> int:
    folder.pid.write_text(str(os.getpid()))  # lets a restarted manager re-attach
    request = kernel_pb2.SubmitJobRequest.FromString(folder.request.read_bytes())
    try:
        graph = decode_graph(request.graph)
        tasks = _plan(graph)  # graph errors (an unfilled future...) are the submitter's to fix
        if request.executor == "ray":
            from sage_kernel.ray_executor import check_supported

            check_supported(graph)
    except GraphDecodingError as exc:
        _outcome(folder, "unloadable", str(exc), reason="FAILED_PRECONDITION")
        return EXIT_UNLOADABLE
    except (GraphError, ValueError, TypeError) as exc:
        _outcome(folder, "unloadable", str(exc), reason="INVALID_ARGUMENT")
        return EXIT_UNLOADABLE
    if request.collect_result:
        collect_sinks(graph)
    folder.loaded.touch()

    job: Any = None
    cancelled = threading.Event()

    def on_term(signum: int, frame: Any) -> None:
        cancelled.set()  # the manager's CancelJob: abandon in-flight records and exit
        if job is not None:
            job.cancel()

    signal.signal(signal.SIGTERM, on_term)
    stop_threads = threading.Event()
    checkpoints = None
    if request.checkpoint_interval_ms > 0 and request.executor != "ray":
        checkpoints = Checkpoints(folder, request.checkpoint_interval_ms / 1000)
    try:
        job = _start(request, graph, tasks, checkpoints)
        if cancelled.is_set():
            job.cancel()
        threading.Thread(
            target=_report_metrics, args=(folder, job, checkpoints, stop_threads), daemon=True
        ).start()
        if checkpoints is not None:
            threading.Thread(target=checkpoints.run, args=(job, stop_threads), daemon=True).start()
        job.wait()
    except BaseException as exc:  # noqa: BLE001 - the traceback is the job's error
        print(_format(exc), file=sys.stderr, flush=True)
        _outcome(folder, "failed", _format(exc))
        return EXIT_FAILED
    finally:
        stop_threads.set()
        if job is not None:
            _write_metrics(folder, job, checkpoints)
        sys.stdout.flush()
    if cancelled.is_set():
        _outcome(folder, "cancelled")
        return EXIT_CANCELLED
    if request.collect_result:
        _write_result(folder, COLLECTOR.take())
    _outcome(folder, "succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
