"""Opt-in process execution (``processes=True``) for CPU-bound map/filter/flatmap chains.

Each parallel instance keeps one worker process; the task thread ships it whole batches and
waits (without holding the GIL) for the results, so instances compute truly in parallel. The
worker is started as ``python -m`` this module rather than with multiprocessing, so the user's
``__main__`` is never re-imported; functions travel with cloudpickle, records with pickle.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import traceback
from typing import IO, TYPE_CHECKING, Any

import cloudpickle

from sage_client.dataflow.api import graph as g
from sage_client.dataflow.runtime import operators as ops
from sage_client.dataflow.runtime.context import RuntimeContext
from sage_client.dataflow.services import ServiceRegistry

if TYPE_CHECKING:
    from sage_client.dataflow.runtime.host import TaskHost

_HEADER = struct.Struct("!Q")


def _write(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _read(stream: IO[bytes]) -> bytes:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("worker pipe closed")
    (size,) = _HEADER.unpack(header)
    return stream.read(size)


class RemoteFunctionError(RuntimeError):
    """A user function failed in a worker process and its exception could not be pickled."""


class ProcessOperator(ops.Operator):
    def __init__(self, job: TaskHost, nodes: list[g.Node], index: int) -> None:
        self.names = ", ".join(n.name for n in nodes)
        env = dict(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sage_client.dataflow.runtime.process_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._call("open", cloudpickle.dumps((job.graph.name, nodes, index)))

    def _call(self, verb: str, payload: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            _write(self.proc.stdin, pickle.dumps((verb, payload), protocol=pickle.HIGHEST_PROTOCOL))
            status, result = pickle.loads(_read(self.proc.stdout))
        except (EOFError, BrokenPipeError) as broken:
            raise RemoteFunctionError(
                f"the worker process of {self.names} exited (code {self.proc.poll()}); "
                "see its stderr above"
            ) from broken
        if status == "error":
            error, remote_traceback = result
            if not isinstance(error, BaseException):
                error = RemoteFunctionError(error)
            error.add_note(f"in worker process of {self.names}:\n{remote_traceback}")
            raise error
        return result

    def process(self, values: list[Any], keys: list[Any] | None) -> ops.Batch:
        return self._call("batch", (values, keys))  # type: ignore[no-any-return]

    def finish(self) -> ops.Batch:
        return self._call("finish", None)  # type: ignore[no-any-return]

    def kill(self) -> None:
        """End the worker if it is still running (after close() it has already exited)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        try:
            self._call("close", None)
        finally:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)


def _worker(inp: IO[bytes], out: IO[bytes]) -> None:
    operators: list[ops.Operator] = []
    instances: list[Any] = []
    while True:
        try:
            verb, payload = pickle.loads(_read(inp))
        except EOFError:
            return
        try:
            if verb == "open":
                job_name, nodes, index = cloudpickle.loads(payload)
                services = ServiceRegistry()
                for node in nodes:
                    ctx = RuntimeContext(
                        job_name=job_name,
                        operator_name=node.name,
                        parallel_index=index,
                        parallelism=node.parallelism,
                        services=services,
                    )
                    instance = ops.instantiate(node, index)
                    ops.bind(instance, ctx)
                    instances.append(instance)
                    operators.append(ops.build_operator(node, instance, ctx, 1, None))
                result: Any = None
            elif verb == "batch":
                values, keys = payload
                for op in operators:
                    values, keys = op.process(values, keys)
                    if not values:
                        break
                result = (values, keys)
            elif verb == "finish":
                result = ([], None)
            else:
                for instance in instances:
                    ops.close_function(instance)
                result = None
            reply = ("ok", result)
        except Exception as exc:  # noqa: BLE001 - shipped back to the task thread
            text = traceback.format_exc()
            try:
                pickle.dumps(exc)
                reply = ("error", (exc, text))
            except Exception:  # noqa: BLE001
                reply = ("error", (f"{type(exc).__name__}: {exc}", text))
        _write(out, pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        if verb == "close":
            return


def main() -> None:
    # The protocol owns the real stdout; user prints go to stderr instead of corrupting it.
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _worker(sys.stdin.buffer, protocol_out)


if __name__ == "__main__":
    main()
