"""Pipeline-as-service: PipelineBridge, PipelineService and its Source/Sink."""

from __future__ import annotations

from typing import Any

import pytest
from sage.common.core.functions import BatchFunction, MapFunction, SinkFunction
from sage.kernel.api.local_environment import LocalEnvironment
from sage.kernel.api.service import (
    PipelineBridge,
    PipelineService,
    PipelineServiceSink,
    PipelineServiceSource,
)


class Square(MapFunction):
    def execute(self, data: Any) -> Any:
        data["result"] = data["number"] ** 2
        return data


class Requests(BatchFunction):
    def __init__(self, numbers: list[int]) -> None:
        super().__init__()
        self.items: list[dict[str, Any]] = [{"number": n} for n in numbers]
        self.items.append({"command": "shutdown"})

    def execute(self) -> Any:
        return self.items.pop(0) if self.items else None


class Ask(MapFunction):
    def execute(self, data: Any) -> Any:
        return self.call_service("squares", data)


class Keep(SinkFunction):
    def __init__(self, out: list[Any]) -> None:
        super().__init__()
        self.out = out

    def execute(self, data: Any) -> None:
        self.out.append(data)


def test_a_pipeline_answers_calls_as_a_service_and_shuts_down() -> None:
    env = LocalEnvironment("pipeline-as-service")
    bridge = PipelineBridge()
    env.register_service("squares", PipelineService, bridge)
    env.from_source(PipelineServiceSource, bridge).map(Square).sink(PipelineServiceSink)
    out: list[Any] = []
    env.from_batch(Requests, [1, 2, 3]).map(Ask).sink(Keep, out)
    env.submit(autostop=True)  # ends: the shutdown request closes the bridge
    assert [r.get("result") for r in out[:3]] == [1, 4, 9]
    assert out[-1] == {"status": "shutdown_ack"} and bridge.closed


def test_a_request_the_pipeline_never_answers_times_out() -> None:
    bridge = PipelineBridge()
    service = PipelineService(bridge, request_timeout=0.05)
    with pytest.raises(TimeoutError, match="no reply"):
        service.process({"number": 1})


def test_a_closed_bridge_refuses_requests() -> None:
    bridge = PipelineBridge()
    bridge.close()
    with pytest.raises(RuntimeError, match="shutting down"):
        PipelineService(bridge).process({"number": 1})
    assert bridge.next().message == "pipeline-service-shutdown"


class Boom(MapFunction):
    def execute(self, data: Any) -> Any:
        raise RuntimeError("the service pipeline broke")


def test_a_failed_service_pipeline_fails_the_job_at_once_and_stop_is_quiet() -> None:
    # the caller used to sit out the service's 30 s timeout, and env.stop() raised the same
    # error a second time after submit() had raised it
    import time

    env = LocalEnvironment("pipeline-service-fails")
    bridge = PipelineBridge()
    env.register_service("squares", PipelineService, bridge, request_timeout=30.0)
    env.from_source(PipelineServiceSource, bridge).map(Boom).sink(PipelineServiceSink)
    env.from_batch(Requests, [1, 2, 3]).map(Ask).sink(Keep, [])
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the service pipeline broke"):
        env.submit(autostop=True)
    assert time.monotonic() - started < 10.0  # not the 30 s request timeout
    assert bridge.closed
    env.stop()  # the error was already raised by submit(): not again


def test_closing_the_bridge_answers_a_waiting_caller_with_an_error() -> None:
    import threading

    from sage_client.dataflow.pipeline_service import PipelineStopped

    bridge = PipelineBridge()
    reply = bridge.submit({"number": 1})
    threading.Timer(0.2, bridge.close).start()
    with pytest.raises(PipelineStopped, match="stopped before it replied"):
        bridge.wait_reply(reply, timeout=30.0)
