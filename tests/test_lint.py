"""ruff is clean and the tree is formatted (line length 100) over the whole tree, and mypy passes
(configuration in pyproject.toml). `ruff format .` fixes the formatting."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.background import Background, step

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(
    shutil.which("ruff") is None, reason="ruff not installed (pip install -e '.[dev]')"
)
def test_ruff_is_clean() -> None:
    result = subprocess.run(
        ["ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.skipif(
    shutil.which("mypy") is None, reason="mypy not installed (pip install -e '.[dev]')"
)
@pytest.mark.timeout(900)  # it may wait for the steps queued before it
@pytest.mark.background("mypy")  # ~50 s of one core: run beside the tests that wait on servers
def test_mypy_is_clean(background: Background) -> None:
    result = background.result("mypy")
    assert result.returncode == 0, result.stdout[-4000:]


@step("mypy")
def _mypy(scratch: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mypy", "--no-incremental"], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.skipif(
    shutil.which("ruff") is None, reason="ruff not installed (pip install -e '.[dev]')"
)
def test_the_tree_is_formatted() -> None:
    """Line length 100, enforced by the formatter: `ruff format .` fixes a failure."""
    result = subprocess.run(
        ["ruff", "format", "--check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, "run `ruff format .`:\n" + result.stdout[-4000:]
