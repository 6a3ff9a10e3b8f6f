"""Build the generated clients once per test session, or say why they cannot be built here."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "clients" / "node"
CPP_DIR = ROOT / "clients" / "cpp"
CPP_BUILD = ROOT / "build" / "clients-cpp"


class ToolchainMissing(Exception):
    """The toolchain of a client is not installed; the message says what to install."""


def _run(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    return result.stdout


def build_node_client() -> Path:
    """npm install (when needed) and `npm run build` (generate + tsc) in clients/node."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise ToolchainMissing("node/npm are not installed (apt-get install nodejs npm)")
    if not (ROOT / "node_modules" / ".bin" / "buf").exists():
        _run(["npm", "install", "--no-audit", "--no-fund"], ROOT, 600)
    if not (NODE_DIR / "node_modules" / ".bin" / "tsc").exists():
        _run(["npm", "install", "--no-audit", "--no-fund"], NODE_DIR, 600)
    _run(["npm", "run", "build"], NODE_DIR, 600)
    return NODE_DIR


@dataclass(frozen=True)
class TapSummary:
    passed: int
    failed: int
    skipped: list[str]  # "# SKIP" lines: a skip anywhere means a test did not run


def run_node_tests(test_file: str, env: dict[str, str]) -> tuple[TapSummary, str]:
    result = subprocess.run(["node", "--test", "--test-reporter=tap", f"dist/test/{test_file}"], cwd=NODE_DIR,
                            capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    out = result.stdout + result.stderr

    def count(label: str) -> int:
        found = re.search(rf"^# {label} (\d+)$", out, re.MULTILINE)
        assert found, f"no '# {label}' line in the TAP output:\n{out[-4000:]}"
        return int(found.group(1))

    skipped = [line.strip() for line in out.splitlines() if "# SKIP" in line]
    summary = TapSummary(count("pass"), count("fail"), skipped)
    assert (result.returncode == 0) == (summary.failed == 0), out[-4000:]
    return summary, out
