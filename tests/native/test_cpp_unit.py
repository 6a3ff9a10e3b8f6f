"""Runs the C++ GoogleTest suite (and its sanitizer build) through native/run_cpp_tests.sh."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "native" / "run_cpp_tests.sh"

needs_toolchain = pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")


def run_script(*flags: str) -> None:
    result = subprocess.run([str(SCRIPT), *flags], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "100% tests passed" in result.stdout


# The build directory is kept under build/, so only the first run compiles (a minute or two on
# two cores); marked slow so the quick suite stays quick. `pytest tests` runs it.
@pytest.mark.slow
@needs_toolchain
@pytest.mark.timeout(900)
def test_cpp_unit_tests_pass() -> None:
    run_script()


# A second full build of the core and FAISS-linked tests (about 4 minutes on two cores), so it is one
# option away rather than in every CI run: SAGE_TEST_SANITIZERS=1 bash scripts/test.sh
@pytest.mark.slow
@needs_toolchain
@pytest.mark.timeout(1200)
@pytest.mark.skipif(
    os.environ.get("SAGE_TEST_SANITIZERS") != "1",
    reason="sanitizer build is opt-in: set SAGE_TEST_SANITIZERS=1 (or run native/run_cpp_tests.sh --sanitize)",
)
def test_cpp_unit_tests_pass_under_asan_and_ubsan() -> None:
    run_script("--sanitize")
