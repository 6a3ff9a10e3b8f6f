"""bench/jobs.py keeps working and keeps its output contract (one JSON object, last line)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.background import Background, step

BENCH = Path(__file__).resolve().parents[2] / "bench" / "jobs.py"


@step("jobs-bench")
def _run_bench(scratch: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("ray.data", reason="bench/jobs.py needs `pip install -e .[bench]`")
    return subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--records", "20000"],
        capture_output=True,
        text=True,
        timeout=800,
        check=True,
    )


@pytest.mark.slow  # starts a job manager and a Ray, runs every contender twice
@pytest.mark.timeout(900)  # it may wait for the steps queued before it
@pytest.mark.background("jobs-bench")  # its figures are not asserted: run beside the suite
def test_bench_prints_every_figure_as_json_on_its_last_line(background: Background) -> None:
    result = background.result("jobs-bench")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for name in (
        "ray_rps",
        "local_rps",
        "ray_data_rps",
        "ray_data_udf_rps",
        "ray_data_udf_batches_rps",
        "submit_to_first_record_s",
        "cold_submit_to_first_record_s",
        "ray_cold_submit_to_first_record_s",
    ):
        assert figures[name] > 0, name
    assert figures["records"] == figures["n"] == 20000
    assert figures["sizes"] == [2000, 20000] and figures["quick"] is True
    for side in ("local", "ray", "ray_data_udf", "ray_data_udf_batches", "ray_data"):
        # a straight line through two timed sizes; null only when noise made the larger faster
        marginal = figures[f"{side}_marginal_rps"]
        assert marginal is None or marginal > 0, side
        assert f"{side}_fixed_s" in figures
    # without a standby the worker starts, imports and (on Ray) creates actors after the submit
    assert figures["cold_submit_to_first_record_s"] > figures["submit_to_first_record_s"]
