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
