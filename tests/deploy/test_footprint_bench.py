"""bench/footprint.py, run as a user runs it: a real KV service started, timed to SERVING and
weighed before and after its load; a service name it does not know is refused by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "footprint.py"


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_quick_kv_run_reports_its_cold_start_and_memory_in_one_json_line() -> None:
    out = run_bench("--quick", "--services", "kv")

    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["bench"] == "footprint"
    assert figures["quick"] is True and figures["n"] == 1
    assert figures["services"] == ["kv"] and figures["skipped"] == {}
    assert 0 < figures["cold_start_s"]["kv"] < 60
    assert figures["cold_start_runs_s"]["kv"] == [figures["cold_start_s"]["kv"]]
    idle, loaded = figures["rss_mb_idle"]["kv"], figures["rss_mb_loaded"]["kv"]
    assert idle > 20  # a Python process with grpc loaded
    # 100k keys of 100 B held in the memory backend weigh at least their values
    assert loaded > idle + 5, (idle, loaded)
    assert figures["load"]["kv"]["keys"] == 100_000


def test_an_unknown_service_is_refused_with_the_names_it_knows() -> None:
    out = run_bench("--quick", "--services", "kv,postgres")

    assert out.returncode == 2
    assert "unknown service(s) postgres" in out.stderr
    assert "kv" in out.stderr and "tsdb" in out.stderr
    assert out.stdout == ""
