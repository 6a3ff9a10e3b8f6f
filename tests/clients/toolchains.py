"""Build the generated clients once per test session, or say why they cannot be built here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "clients" / "node"
CPP_DIR = ROOT / "clients" / "cpp"
CPP_BUILD = ROOT / "build" / "clients-cpp"


class ToolchainMissing(Exception):
    """The toolchain of a client is not installed; the message says what to install."""


def _run(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        )
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
    failed: int  # failed or cancelled (a failing before() hook cancels its tests)
    skipped: list[str]  # "# SKIP" lines: a skip anywhere means a test did not run


def run_node_tests(test_file: str, env: dict[str, str]) -> tuple[TapSummary, str]:
    result = subprocess.run(
        ["node", "--test", "--test-reporter=tap", f"dist/test/{test_file}"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    out = result.stdout + result.stderr

    def count(label: str) -> int:
        found = re.search(rf"^# {label} (\d+)$", out, re.MULTILINE)
        assert found, f"no '# {label}' line in the TAP output:\n{out[-4000:]}"
        return int(found.group(1))

    skipped = [line.strip() for line in out.splitlines() if "# SKIP" in line]
    summary = TapSummary(count("pass"), count("fail") + count("cancelled"), skipped)
    assert (result.returncode == 0) == (summary.failed == 0), out[-4000:]
    return summary, out


def build_cpp_client() -> Path:
    """Configure and build clients/cpp into build/clients-cpp (kept between runs, so only
    the first build compiles the generated code)."""
    tools = {
        "cmake": "cmake",
        "c++": "g++",
        "protoc": "protobuf-compiler",
        "grpc_cpp_plugin": "protobuf-compiler-grpc",
    }
    missing = sorted({package for tool, package in tools.items() if shutil.which(tool) is None})
    headers = {
        "grpcpp/grpcpp.h": "libgrpc++-dev",
        "google/protobuf/message.h": "libprotobuf-dev",
        "gtest/gtest.h": "libgtest-dev",
    }
    for header, package in headers.items():
        if not any(
            (Path(include) / header).exists() for include in ("/usr/include", "/usr/local/include")
        ):
            missing.append(package)
    if missing:
        raise ToolchainMissing(f"the C++ client needs: apt-get install {' '.join(missing)}")
    if not (CPP_BUILD / "CMakeCache.txt").exists():
        # This interpreter has the project installed: it locates the google/api protos (scripts/proto_deps.py).
        _run(
            [
                "cmake",
                "-S",
                str(CPP_DIR),
                "-B",
                str(CPP_BUILD),
                f"-DPython3_EXECUTABLE={sys.executable}",
            ],
            ROOT,
            300,
        )
    _run(["cmake", "--build", str(CPP_BUILD), "-j2"], ROOT, 900)
    return CPP_BUILD


def run_ctest(test_name: str, env: dict[str, str]) -> tuple[str, str]:
    """Runs one ctest test; returns its outcome ("Passed", "Skipped", "Failed", ...) and the output."""
    result = subprocess.run(
        ["ctest", "--test-dir", str(CPP_BUILD), "-R", f"^{test_name}$", "--output-on-failure"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    out = result.stdout + result.stderr
    found = re.search(rf"Test\s+#\d+: {re.escape(test_name)} \.+\s*(\**)(\w+)", out)
    assert found, f"ctest did not run {test_name!r}:\n{out[-4000:]}"
    return found.group(2), out
