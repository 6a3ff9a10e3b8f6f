"""bench/kernel.py keeps working and keeps its output contract (one JSON object, last line)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "kernel.py"


@pytest.mark.slow  # ~15 s: stop() drains the slow sink's backlog
def test_bench_prints_every_figure_as_json_on_its_last_line() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--records", "20000", "--unbounded-seconds", "0.5"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
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
