"""Pipelines that cannot run are refused at submit with the reason, and nothing else is harmed."""

from __future__ import annotations

import pickle
import sys
import threading
import types

import pytest

from sage_client import JobClient, LocalEnvironment
from sage_client.errors import FailedPrecondition, InvalidArgument
from sage_client.remote.graph_codec import encode_graph
from sage_proto.kernel.v1 import kernel_pb2
from tests.kernel import pipelines


def test_a_function_that_cannot_be_pickled_is_an_invalid_argument(jobs: JobClient) -> None:
    lock = threading.Lock()
    env = LocalEnvironment("locked")
    env.from_batch([1]).map(lambda x: (lock, x)).sink(pipelines.announce)
    with pytest.raises(InvalidArgument, match=r"operator 'map.*cannot be serialized.*lock"):
        jobs.submit(env.graph)


def test_a_module_missing_on_the_worker_is_a_failed_precondition(jobs: JobClient) -> None:
    # a module only the client has: its functions are pickled by reference, as cloudpickle does
    # for anything importable, and the worker cannot import it
    module = types.ModuleType("sage_only_on_the_client")
    exec("def double(x):\n    return 2 * x\n", module.__dict__)
    sys.modules[module.__name__] = module
    try:
        env = LocalEnvironment("missing-module")
        env.from_batch([1]).map(module.double).sink(pipelines.announce)
        graph = encode_graph(env.graph)
        graph.operators[1].function = pickle.dumps((module.double, (), {}, {}))
    finally:
        del sys.modules[module.__name__]
    request = kernel_pb2.SubmitJobRequest(name="missing-module", graph=graph)
    with pytest.raises(FailedPrecondition, match="needs module 'sage_only_on_the_client'"):
        jobs._ch.call("SubmitJob", request, idempotent=False)
    failed = next(jobs.list(state="failed"))
    assert "sage_only_on_the_client" in failed.error  # the record says why, too


def test_an_unfilled_future_is_an_invalid_argument(jobs: JobClient) -> None:
    env = LocalEnvironment("open-loop")
    env.from_batch([1]).connect(env.from_future("loop")).map(lambda x: x)
    with pytest.raises(InvalidArgument, match="never filled"):
        jobs.submit(env.graph)


def test_a_structurally_broken_graph_is_an_invalid_argument(jobs: JobClient) -> None:
    graph = kernel_pb2.JobGraph(
        operators=[kernel_pb2.Operator(id="0", kind="source", parallelism=1)],
        edges=[kernel_pb2.Edge(source_id="0", target_id="7")],
    )
    with pytest.raises(InvalidArgument, match=r"graph.edges\[0\].target_id '7' names no operator"):
        jobs._ch.call("SubmitJob", kernel_pb2.SubmitJobRequest(graph=graph), idempotent=False)


def test_the_manager_keeps_serving_after_refusals(jobs: JobClient) -> None:
    env = LocalEnvironment("fine")
    env.from_batch([1, 2]).map(pipelines.square).sink(pipelines.announce)
    assert jobs.submit(env.graph, collect_result=True).wait(timeout=60).state == "succeeded"
