"""bench/jobs.py keeps working and keeps its output contract (one JSON object, last line)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "jobs.py"


@pytest.mark.slow  # starts a job manager and a Ray, runs every contender twice
def test_bench_prints_every_figure_as_json_on_its_last_line() -> None:
    pytest.importorskip("ray.data", reason="bench/jobs.py needs `pip install -e .[bench]`")
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--records", "20000"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for name in ("ray_rps", "local_rps", "ray_data_rps", "submit_to_first_record_s"):
        assert figures[name] > 0
    assert figures["records"] == 20000
