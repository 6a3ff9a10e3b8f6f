"""bench/scaling.py, run as a user runs it: each size is a real run of the benchmark it names,
its figures gathered per size; sizes it cannot use are refused before anything starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "scaling.py"


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, cwd=ROOT
    )


def test_each_tsdb_size_is_a_real_run_with_its_peers_figures() -> None:
    out = run_bench("--quick", "--tsdb", "2000,6000", "--vdb", "none")

    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["n"] == {"tsdb": [2000, 6000], "vdb": []} and figures["quick"] is True
    assert figures["vdb"] == {}
    for n in ("2000", "6000"):
        run = figures["tsdb"][n]
        assert "error" not in run, run
        assert run["ingest_points_per_s"] > 0 and run["agg_ms"] > 0
        assert run["seconds"] > 0


def test_sizes_it_cannot_use_are_refused_by_name() -> None:
    for bad, says in (("10k", "integers"), ("500", "at least 1000")):
        out = run_bench("--tsdb", bad)
        assert out.returncode == 2, out.stderr
        assert says in out.stderr
        assert out.stdout == ""
