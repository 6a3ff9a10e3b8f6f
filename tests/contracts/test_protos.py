"""The contracts: buf lint (STANDARD + COMMENTS) passes and the generated stubs are not stale."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = shutil.which("buf") or str(ROOT / "node_modules" / ".bin" / "buf")


def test_committed_stubs_match_the_protos() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_protos.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stale_check_reports_an_edited_stub(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    fresh, edited = tmp_path / "fresh", tmp_path / "edited"
    gen._generate(fresh)
    shutil.copytree(fresh, edited)
    assert gen._diff(fresh, edited) == []
    target = edited / "kv" / "v1" / "kv_pb2.py"
    target.write_text(target.read_text() + "\n# hand edit\n")
    assert gen._diff(fresh, edited) == ["kv/v1/kv_pb2.py"]


@pytest.mark.skipif(
    not Path(BUF).exists(), reason="buf not installed (npm install at the repo root)"
)
def test_buf_lint_passes() -> None:
    result = subprocess.run([BUF, "lint"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_package_is_versioned() -> None:
    from sage_proto.common.v1 import common_pb2
    from sage_proto.kernel.v1 import kernel_pb2
    from sage_proto.kv.v1 import kv_pb2
    from sage_proto.llm.v1 import llm_pb2
    from sage_proto.memory.v1 import memory_pb2
    from sage_proto.vdb.v1 import vdb_pb2

    names = {
        m.DESCRIPTOR.package for m in (common_pb2, kernel_pb2, kv_pb2, llm_pb2, memory_pb2, vdb_pb2)
    }
    assert names == {
        "sage.common.v1",
        "sage.kernel.v1",
        "sage.kv.v1",
        "sage.llm.v1",
        "sage.memory.v1",
        "sage.vdb.v1",
    }
