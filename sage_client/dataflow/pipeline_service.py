"""Pipeline-as-service: a whole pipeline behind a service name.

    bridge = PipelineBridge()
    env.register_service("scorer", PipelineService, bridge)
    env.from_source(PipelineServiceSource, bridge).map(Score).sink(PipelineServiceSink)
    # elsewhere in the job: self.call_service("scorer", {"order": ...}) -> the pipeline's reply

``PipelineService.process(msg)`` hands ``msg`` to the bridge and blocks until the service
pipeline's sink answers (that wait is the back-pressure); ``{"command": "shutdown"}`` closes
the bridge, which ends the service pipeline. Each request carries its own reply queue, so
concurrent callers never see each other's answers.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from typing import Any

from sage_client.dataflow.api.functions import SinkFunction, SourceFunction, StopSignal, is_stop
from sage_client.dataflow.api.service import BaseService

REPLY_KEY = "_response_queue"  # where a dict request carries its reply queue inside the pipeline


def _default_timeout() -> float:
    test_mode = os.getenv("SAGE_TEST_MODE") == "true" or os.getenv("SAGE_EXAMPLES_MODE") == "test"
    return 5.0 if test_mode else 30.0


@dataclass
class PipelineRequest:
    payload: Any
    response_queue: queue.Queue[Any]


class PipelineStopped(RuntimeError):
    """The service pipeline ended (or its job failed) before it answered a request."""


_STOPPED = object()  # put on a waiting caller's reply queue when the bridge closes


class PipelineBridge:
    """The request queue between ``PipelineService`` (callers) and ``PipelineServiceSource``.

    Closing it ends the service pipeline and answers every caller still waiting with
    ``PipelineStopped`` at once, so no caller sits out its timeout on a pipeline that is gone."""

    def __init__(self) -> None:
        self._requests: queue.Queue[PipelineRequest | StopSignal] = queue.Queue()
        self._closed = False
        self._waiting: set[queue.Queue[Any]] = set()
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, payload: Any) -> queue.Queue[Any]:
        """Enqueue one request; returns the queue its reply will arrive on."""
        reply: queue.Queue[Any] = queue.Queue(maxsize=1)
        with self._lock:
            if self._closed:
                raise RuntimeError("pipeline bridge is closed")
            self._waiting.add(reply)
        self._requests.put(PipelineRequest(payload, reply))
        return reply

    def wait_reply(self, reply: queue.Queue[Any], timeout: float) -> Any:
        """The reply to one ``submit``: raises ``queue.Empty`` after ``timeout`` and
        ``PipelineStopped`` when the bridge closed first."""
        try:
            result = reply.get(timeout=timeout)
        finally:
            with self._lock:
                self._waiting.discard(reply)
        if result is _STOPPED:
            raise PipelineStopped("the service pipeline stopped before it replied")
        return result

    def next(self, timeout: float = 0.1) -> PipelineRequest | StopSignal | None:
        """The next request, None when none came within ``timeout``, StopSignal once closed."""
        if self._closed and self._requests.empty():
            return StopSignal("pipeline-service-shutdown")
        try:
            return self._requests.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            waiting, self._waiting = self._waiting, set()
        self._requests.put(StopSignal("pipeline-service-shutdown"))
        for reply in waiting:
            try:
                reply.put_nowait(_STOPPED)
            except queue.Full:  # answered in the same moment: the caller has its result
                pass


class PipelineService(BaseService):
    """The service face of a pipeline: ``process(message)`` returns the pipeline's reply."""

    def __init__(self, bridge: PipelineBridge, request_timeout: float | None = None) -> None:
        super().__init__()
        self._bridge = bridge
        self._timeout = request_timeout if request_timeout is not None else _default_timeout()

    thread_safe = True  # each request has its own reply queue: callers need not be serialised

    def process(self, message: Any) -> Any:
        if message is None:
            raise ValueError("PipelineService.process() got an empty message")
        if isinstance(message, dict) and message.get("command") == "shutdown":
            self.logger.info("shutting down the pipeline service")
            self._bridge.close()
            return {"status": "shutdown_ack"}
        try:
            reply = self._bridge.submit(message)
        except RuntimeError as exc:
            raise RuntimeError("the pipeline service is shutting down") from exc
        try:
            return self._bridge.wait_reply(reply, self._timeout)
        except queue.Empty as exc:
            raise TimeoutError(
                f"the service pipeline gave no reply within {self._timeout} s"
            ) from exc

    def stop(self) -> None:
        self._bridge.close()

    cleanup = stop
    abort_waiters = stop  # the job failed: callers blocked on this pipeline get an error now  # the job ending closes the bridge, so the service pipeline ends too


class RequestRecord(dict):  # type: ignore[type-arg]
    """A request inside the service pipeline: the payload's own keys plus ``_response_queue``,
    and, for code written against ``PipelineRequest``, ``.payload`` and ``.response_queue``."""

    @property
    def payload(self) -> dict[str, Any]:
        return {k: v for k, v in self.items() if k != REPLY_KEY}

    @property
    def response_queue(self) -> queue.Queue[Any] | None:
        return self.get(REPLY_KEY)


class PipelineServiceSource(SourceFunction):
    """The service pipeline's entry: each request's payload with its reply queue under
    ``_response_queue`` (a payload that is not a dict arrives as ``{"data": payload}``)."""

    def __init__(self, bridge: PipelineBridge, poll_interval: float = 0.1) -> None:
        super().__init__()
        self._bridge = bridge
        self._poll = poll_interval

    def execute(self, data: Any = None) -> Any:
        request = self._bridge.next(timeout=self._poll)
        if not isinstance(request, PipelineRequest):
            return request  # None (nothing yet) or the StopSignal that ends the pipeline
        body = request.payload if isinstance(request.payload, dict) else {"data": request.payload}
        return RequestRecord(body, **{REPLY_KEY: request.response_queue})


class PipelineServiceSink(SinkFunction):
    """The service pipeline's exit: puts each result on its request's reply queue. A result
    is the record without its queue, or its ``payload`` when the record is
    ``{"payload": ..., "response_queue": q}`` (or an object with those attributes)."""

    def execute(self, data: Any) -> None:
        if not data or is_stop(data):
            return
        if isinstance(data, dict):
            data = dict(data)
            reply = data.pop(REPLY_KEY, None)
            if reply is None and "response_queue" in data:
                reply = data.pop("response_queue")
                data = data.get("payload", data)
            result: Any = data
        else:
            reply = getattr(data, "response_queue", None)
            result = getattr(data, "payload", data)
        if reply is None:
            self.logger.warning("PipelineServiceSink got a record without a reply queue: %r", data)
            return
        reply.put(result)
