"""What the native core (``sage_native``) is here: built or not, how, for which CPU features,
whether its build is older than its sources, and how to rebuild it. ``sage extensions`` and
``sage doctor`` both report from this."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

# SAGE's C++ extensions and the part of sage_native that is each of them here
EXTENSIONS = {
    "sage_db": ("Collection", "vector collections (sage_native.Collection)"),
    "sage_flow": ("flow", "vector-stream joins and aggregates (sage_native.flow)"),
    "sage_tsdb": ("tsdb", "time series (sage_native.tsdb)"),
}
_SOURCES = {"sage_db": "collection*.cpp", "sage_flow": "flow_*.cpp", "sage_tsdb": "tsdb_*.cpp"}
CPU_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
)
BUILD_LOCK = "/tmp/native-build.lock"


def source_root() -> Path | None:
    """The checkout this CLI runs from (it has native/ and CMakeLists.txt), if any."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "native").is_dir() and (root / "CMakeLists.txt").exists() else None


def rebuild_command(root: Path | None = None) -> list[str]:
    root = root or source_root() or Path(".")
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-build-isolation",
        "--no-deps",
        "-e",
        str(root),
    ]


def rebuild_hint() -> str:
    return "sage extensions install   (pip install --no-build-isolation --no-deps -e .)"


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    present = set(line.partition(":")[2].split())
    return [flag for flag in CPU_FLAGS if flag in present]


def _build_cache(root: Path) -> dict[str, str]:
    """CMake's settings of the newest build folder under build/ (scikit-build-core's)."""
    caches = sorted(
        (root / "build").glob("*/CMakeCache.txt"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    if not caches:
        return {}
    wanted = {"CMAKE_BUILD_TYPE", "CMAKE_CXX_COMPILER", "CMAKE_CXX_FLAGS"}
    out = {"build_dir": str(caches[0].parent)}
    for line in caches[0].read_text(errors="replace").splitlines():
        name, _, value = line.partition("=")
        key = name.partition(":")[0]
        if key in wanted:
            out[key] = value
    return out


def _newest_source(root: Path) -> float:
    files = [p for p in (root / "native").rglob("*") if p.suffix in (".cpp", ".h", ".txt")]
    files.append(root / "CMakeLists.txt")
    return max((p.stat().st_mtime for p in files if p.exists()), default=0.0)


def native_status() -> dict[str, Any]:
    """Everything `sage extensions status` prints, as data."""
    root = source_root()
    status: dict[str, Any] = {"cpu_flags": cpu_flags(), "source_root": str(root) if root else None}
    try:
        native = importlib.import_module("sage_native")
    except ImportError as exc:
        status.update(built=False, error=str(exc), fix=rebuild_hint())
        return status
    module = Path(native.__file__ or "")
    status.update(
        built=True,
        module=str(module),
        version=str(getattr(native, "__version__", "?")),
        faiss=str(getattr(native, "faiss_version", "?")),
        distance_kernels=str(getattr(native, "simd", "?")),
        extensions={
            name: {
                "present": hasattr(native, attr),
                "what": what,
                "in_sources": root is None or any((root / "native" / "src").glob(_SOURCES[name])),
            }
            for name, (attr, what) in EXTENSIONS.items()
        },
    )
    flow = getattr(native, "flow", None)
    if flow is not None and hasattr(flow, "isa"):
        status["flow_kernels"] = str(flow.isa())
    if root is not None:
        status["build"] = _build_cache(root)
        stale = module.exists() and _newest_source(root) > module.stat().st_mtime
        status["stale"] = stale
        if stale:
            status["fix"] = rebuild_hint()
    return status


def rebuild(root: Path | None = None) -> int:
    """Rebuild and reinstall the native core, one build at a time on this machine."""
    import fcntl
    import subprocess

    root = root or source_root()
    if root is None:
        raise FileNotFoundError(
            "no source checkout next to this CLI (native/ and CMakeLists.txt); "
            "reinstall SAGE Mesh from its checkout: bash scripts/setup.sh"
        )
    with open(BUILD_LOCK, "w") as lock:  # noqa: PTH123
        fcntl.flock(lock, fcntl.LOCK_EX)
        return subprocess.run(rebuild_command(root), cwd=root, env=os.environ.copy()).returncode
