"""Every RAG example runs to the end (mock engine for generation; real embeddings and index)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "rag"


def run_example(name: str, *args: str, timeout: float = 240) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_basic_rag_prints_answers_with_sources() -> None:
    pytest.importorskip("torch")
    out = run_example("basic_rag.py", "--backend", "mock")
    assert out.count("Q: ") == 3 and out.count("A: ") == 3
    assert "sources: docs/deploy.md#" in out  # the "start the mesh" question finds deploy.md


@pytest.mark.slow
def test_hybrid_retrieval_reports_recall_per_retriever() -> None:
    pytest.importorskip("torch")
    out = run_example("hybrid_retrieval.py")
    for name in ("dense", "bm25", "hybrid"):
        assert f"{name:<7} recall@5 = " in out


@pytest.mark.slow
def test_conversational_rag_carries_history_per_session() -> None:
    pytest.importorskip("torch")
    out = run_example("conversational_rag.py", "--backend", "mock")
    assert "[alice, turn 2] And which command stops it again?" in out
    assert "[bob, turn 1]" in out


@pytest.mark.slow
def test_react_agent_example_runs_within_its_step_limit() -> None:
    pytest.importorskip("torch")
    out = run_example("react_agent.py", "--backend", "mock", "--max-steps", "2")
    assert out.count("Q: ") == 2
    assert "[step_limit]" in out or "[final_answer]" in out


def test_main_job_without_a_mesh_says_how_to_start_it(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "main_job.py"), "--run-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode != 0
    assert f"sage mesh up --run-dir {tmp_path}" in proc.stderr
