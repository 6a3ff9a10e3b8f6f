"""Per-operator counters the job manager streams (Job.metrics() of the local runtime)."""

from __future__ import annotations

from sage_client import LocalEnvironment
from sage_client.dataflow.runtime import run_graph
from tests.kernel import pipelines


def test_metrics_count_records_in_out_and_skipped_errors() -> None:
    env = LocalEnvironment("metrics")
    (
        env.from_batch([1, 2, 3, 4, 5])
        .map(pipelines.explode, on_error="skip")  # record 3 raises and is skipped
        .filter(lambda x: x > 1)
        .sink(lambda x: None)
    )
    job = run_graph(env.graph)
    job.wait()
    by_id = {m["operator_id"]: m for m in job.metrics()["operators"]}
    assert by_id["0"]["records_out"] == 5  # the source
    assert (by_id["1"]["records_in"], by_id["1"]["records_out"], by_id["1"]["errors"]) == (5, 4, 1)
    assert (by_id["2"]["records_in"], by_id["2"]["records_out"]) == (4, 3)
    assert by_id["3"]["records_in"] == 3 and by_id["3"]["errors"] == 0
