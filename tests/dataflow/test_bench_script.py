"""bench/kernel.py keeps working and keeps its output contract (one JSON object, last line)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.background import Background, step

BENCH = Path(__file__).resolve().parents[2] / "bench" / "kernel.py"


@step("kernel-bench")
def _run_bench(scratch: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--records", "20000", "--unbounded-seconds", "0.5"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


@pytest.mark.slow  # ~15 s: stop() drains the slow sink's backlog
@pytest.mark.timeout(900)  # it may wait for the steps queued before it
@pytest.mark.background("kernel-bench")  # its figures are not asserted: run beside the suite
def test_bench_prints_every_figure_as_json_on_its_last_line(background: Background) -> None:
    result = background.result("kernel-bench")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for name in (
        "chain_rps",
        "generator_rps",
        "bytewax_rps",
        "thread_channel_rps",
        "keyed_window_rps",
        "peak_rss_mb_unbounded",
    ):
        assert name in figures
    assert figures["chain_rps"] > 0 and figures["peak_rss_mb_unbounded"] > 0
