"""Submit, get, list, cancel, pause/resume, events and results against a real job manager."""

from __future__ import annotations

import grpc
import pytest

from sage_client import AsyncJobClient, JobClient, LocalEnvironment, NotFound, RemoteEnvironment
from sage_client.credentials import default_token
from sage_client.errors import FailedPrecondition, InvalidArgument
from sage_client.remote import JobCancelled, JobFailed
from sage_proto.kernel.v1 import kernel_pb2, kernel_pb2_grpc
from tests.conftest import ServiceProcess
from tests.kernel import pipelines
from tests.kernel.conftest import wait_until


def _graph(name: str = "squares", count: int = 50):
    env = LocalEnvironment(name)  # only builds the graph: the job manager runs it
    env.from_batch(list(range(count))).map(pipelines.square).filter(lambda x: x % 2 == 0).sink(
        pipelines.announce
    )
    return env.graph


def test_a_finite_job_succeeds_with_its_collected_result(jobs: JobClient) -> None:
    handle = jobs.submit(_graph(), collect_result=True)
    info = handle.wait(timeout=60)
    assert info.state == "succeeded" and info.end_time >= info.create_time
    assert sorted(handle.result()) == [x * x for x in range(50) if x % 2 == 0]


async def test_the_async_client_submits_waits_and_reads_what_the_job_made(
    kernel: ServiceProcess,
) -> None:
    async with AsyncJobClient(address=kernel.address) as jobs:
        handle = await jobs.submit(_graph(count=4), collect_result=True)
        info = await handle.wait(timeout=60)
        assert info.state == "succeeded" and (await handle.status()).state == "succeeded"
        assert sorted(await handle.result()) == [0, 4]
        assert [line async for line in handle.logs(follow=True)] == ["record 0", "record 4"]
        assert [job.id async for job in jobs.list(state="succeeded")][0] == handle.id
        with pytest.raises(NotFound):
            await jobs.get("no-such-job")


def test_logs_stream_what_the_functions_print(jobs: JobClient) -> None:
    handle = jobs.submit(_graph(count=4))
    lines = list(handle.logs(follow=True))
    assert lines == ["record 0", "record 4"]


def test_events_carry_state_changes_and_operator_metrics(jobs: JobClient) -> None:
    handle = jobs.submit(_graph(count=10))
    events = list(jobs.events(handle.id, follow=True))
    states = [e.state for e in events if e.WhichOneof("event") == "state"]
    assert states[0] == 1 and states[-1] == 5  # PENDING ... SUCCEEDED
    metrics = [e.metrics for e in events if e.WhichOneof("event") == "metrics"]
    sink_in = max(m.records_in for m in metrics if m.operator_id == "3")
    assert sink_in == 5  # the 5 even squares of 0..9 reached the sink


def test_a_failing_function_fails_the_job_with_the_remote_traceback(jobs: JobClient) -> None:
    env = LocalEnvironment("cursed")
    env.from_batch([1, 2, 3, 4]).map(pipelines.explode).sink(pipelines.announce)
    handle = jobs.submit(env.graph)
    with pytest.raises(JobFailed) as caught:
        handle.wait(timeout=60)
    assert "ValueError: record 3 is cursed" in str(caught.value)
    assert "Traceback" in handle.status().error


def test_autostop_raises_on_failure(kernel: ServiceProcess) -> None:
    host, port = kernel.address.rsplit(":", 1)
    env = RemoteEnvironment("cursed", host=host, port=int(port))
    env.from_batch([3]).map(pipelines.explode).sink(pipelines.announce)
    with pytest.raises(JobFailed, match="record 3 is cursed"):
        env.submit(autostop=True)


def test_cancel_stops_an_unbounded_job(jobs: JobClient) -> None:
    env = LocalEnvironment("forever")
    env.from_source(pipelines.Forever).sink(pipelines.announce)
    handle = jobs.submit(env.graph)
    wait_until(lambda: handle.status().state == "running", what="running")
    assert handle.cancel().state == "cancelled"
    with pytest.raises(JobCancelled):
        handle.wait(timeout=10)


def test_pause_holds_a_job_and_resume_lets_it_finish(jobs: JobClient) -> None:
    env = LocalEnvironment("slow")
    env.from_batch(pipelines.SlowNumbers, 60, 0.01).sink(pipelines.announce)
    handle = jobs.submit(env.graph, collect_result=True)
    assert handle.pause().state == "paused"
    seen = len(list(handle.logs(follow=False)))
    import time

    time.sleep(0.5)
    assert len(list(handle.logs(follow=False))) == seen  # nothing runs while paused
    with pytest.raises(FailedPrecondition, match="only RUNNING jobs pause"):
        handle.pause()
    assert handle.resume().state == "running"
    handle.wait(timeout=60)
    assert sorted(handle.result()) == list(range(60))


def test_list_pages_newest_first_and_filters_by_state(jobs: JobClient) -> None:
    ids = [jobs.submit(_graph(f"job{i}", count=3)).id for i in range(3)]
    for job_id in ids:
        jobs.get(job_id)  # exists
    wait_until(lambda: all(jobs.get(i).done for i in ids), what="jobs to finish")
    listed = [j.id for j in jobs.list(page_size=2)]
    assert listed == ids[::-1]
    assert [j.id for j in jobs.list(state="succeeded")] == ids[::-1]
    assert list(jobs.list(state="running")) == []


def test_unknown_job_is_not_found(jobs: JobClient) -> None:
    with pytest.raises(NotFound, match="no job with id"):
        jobs.get("job-nope")


def test_result_of_a_job_that_did_not_collect_is_refused(jobs: JobClient) -> None:
    handle = jobs.submit(_graph(count=2))
    handle.wait(timeout=60)
    with pytest.raises(FailedPrecondition, match="collect_result"):
        handle.result()


def test_unknown_executor_is_invalid(jobs: JobClient) -> None:
    with pytest.raises(InvalidArgument, match="executor must be one of"):
        jobs.submit(_graph(), executor="spark")


def test_the_graph_of_a_job_has_its_shape_and_final_counters_never_its_code(
    jobs: JobClient, kernel: ServiceProcess
) -> None:
    handle = jobs.submit(_graph(count=50), collect_result=True)
    handle.wait(timeout=60)
    view = jobs.graph(handle.id)
    assert view.job.id == handle.id and view.job.state == "succeeded"
    assert [op.kind for op in view.operators] == ["collection", "map", "filter", "sink"]
    assert [(e.source, e.target) for e in view.edges] == [("0", "1"), ("1", "2"), ("2", "3")]
    assert {e.partitioning for e in view.edges} == {"forward"}
    by_kind = {op.kind: op for op in view.operators}
    assert by_kind["collection"].records_out == 50  # the worker's last report, at its end
    assert (by_kind["map"].records_in, by_kind["map"].records_out) == (50, 50)
    assert (by_kind["filter"].records_in, by_kind["filter"].records_out) == (50, 25)
    assert by_kind["sink"].records_in == 25
    # the raw reply carries no function bytes and no environment: the code stays server-side
    with grpc.insecure_channel(kernel.address) as channel:
        reply = kernel_pb2_grpc.JobServiceStub(channel).GetJob(
            kernel_pb2.GetJobRequest(id=handle.id, include_graph=True),
            metadata=[("authorization", f"Bearer {default_token()}")],
        )
    assert reply.graph.operators and not any(op.function for op in reply.graph.operators)
    assert not reply.graph.environment
    plain = jobs.get(handle.id)  # without include_graph: the job alone, as before
    assert plain.id == handle.id
    with pytest.raises(NotFound):
        jobs.graph("no-such-job")


def test_a_pipeline_spec_runs_on_the_job_manager(kernel: ServiceProcess, tmp_path) -> None:
    import json
    import subprocess
    import sys

    spec = {
        "name": "spec-remote",
        "operators": [
            {"id": "l", "op": "source.lines", "params": {"text": "to be or\nnot to be"}},
            {"id": "w", "op": "flatmap.split_words"},
            {"id": "f", "op": "filter.contains", "params": {"text": "b"}},
            {"id": "c", "op": "sink.collect"},
        ],
        "edges": [{"from": "l", "to": "w"}, {"from": "w", "to": "f"}, {"from": "f", "to": "c"}],
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    ran = subprocess.run(
        [sys.executable, "-m", "sage_cli.main", "pipeline", "run", str(path), "--remote"]
        + ["--address", kernel.address],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ['"be"', '"be"'] and "submitted job-" in ran.stderr
