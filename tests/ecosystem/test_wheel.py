"""`python -m build` makes a wheel with the native core built in, and
`pip install sage_mesh-*.whl[standard]` in a fresh virtual environment gives a working `sage`
command and LocalEnvironment.

The fresh venv sees this machine's already-installed dependencies (each site-packages entry
linked in, never this project's own install nor any .pth hook), so pip resolves `[standard]`
against them with `--no-index` and installs only the wheel: nothing is downloaded, and every
byte of the project comes from the wheel (checked: its modules load from the venv)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from tests.background import Background, step

ROOT = Path(__file__).resolve().parents[2]
OWN = ("sage_mesh", "_editable_skbc_sage_mesh", "sage_native", "__editable__")

PROGRAM = """
import runpy, sys
import sage_client, sage_native
for module in (sage_client, sage_native):
    assert module.__file__.startswith(sys.prefix), (module.__name__, module.__file__)
runpy.run_path(sys.argv[1], run_name="__main__")  # SAGE's first tutorial, on LocalEnvironment
"""


def _build_wheel(out: Path) -> Path:
    out.mkdir(parents=True)
    # -P: the repo's build/ folder would shadow the `build` package on sys.path
    subprocess.run(
        [sys.executable, "-P", "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=900,
        cwd=out,
    )
    (wheel,) = out.glob("sage_mesh-*.whl")
    return wheel


def fresh_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=120)
    site = Path(sysconfig.get_paths(vars={"base": str(where)})["purelib"])
    system = Path(sysconfig.get_paths()["purelib"])
    for entry in system.iterdir():
        if entry.name.startswith(OWN) or entry.suffix == ".pth" or (site / entry.name).exists():
            continue
        (site / entry.name).symlink_to(entry)
    return where / "bin"


@step("wheel")
def _wheel_in_a_fresh_venv(scratch: Path) -> dict[str, Any]:
    """Build the wheel, install it in a fresh venv, run `sage --help` and a program there."""
    wheel = _build_wheel(scratch / "dist")
    names = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True
    ).stdout
    bin_dir = fresh_venv(scratch / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    runs: dict[str, Any] = {"names": names}
    runs["installed"] = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-index", f"{wheel}[standard]"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=scratch,
    )
    if runs["installed"].returncode != 0:
        return runs
    runs["help"] = subprocess.run(
        [str(bin_dir / "sage"), "--help"], capture_output=True, text=True, timeout=60, env=env
    )
    runs["program"] = subprocess.run(
        [str(bin_dir / "python"), "-c", PROGRAM, str(ROOT / "examples/kernel/hello_world.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=scratch,
    )
    return runs


@pytest.mark.slow
@pytest.mark.timeout(900)  # it may wait for the steps queued before it
@pytest.mark.background("wheel")  # builds the native core: on the core the suite leaves idle
def test_the_wheel_installs_a_working_sage_in_a_fresh_venv(background: Background) -> None:
    runs = background.result("wheel")
    names = runs["names"]
    assert "sage_native.cpython" in names and "sage_proto/" in names and "LICENSE" in names
    installed = runs["installed"]
    assert installed.returncode == 0, installed.stderr[-3000:]
    help_text = runs["help"]
    assert help_text.returncode == 0, help_text.stderr
    assert "mesh" in help_text.stdout and "vdb" in help_text.stdout
    ran = runs["program"]
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.split("\n")[:10] == [f"HELLO, WORLD! #{n}" for n in range(1, 11)]
