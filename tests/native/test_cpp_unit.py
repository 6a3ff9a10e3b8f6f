"""Runs the C++ GoogleTest suite (and its sanitizer build) through native/run_cpp_tests.sh."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.background import Background, step

SCRIPT = Path(__file__).resolve().parents[2] / "native" / "run_cpp_tests.sh"

needs_toolchain = pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")


def run_script(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *flags], capture_output=True, text=True)


def assert_passed(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "100% tests passed" in result.stdout


@step("cpp-unit-tests")
def _cpp_unit_tests(scratch: Path) -> subprocess.CompletedProcess[str]:
    return run_script()


# The build directory is kept under build/, so only the first run compiles (a minute or two on
# two cores); marked slow so the quick suite stays quick. `pytest tests` runs it.
@pytest.mark.slow
@needs_toolchain
@pytest.mark.timeout(900)
@pytest.mark.background("cpp-unit-tests")  # compiles on the core the suite leaves idle
def test_cpp_unit_tests_pass(background: Background) -> None:
    assert_passed(background.result("cpp-unit-tests"))


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
    assert_passed(run_script("--sanitize"))
