#!/usr/bin/env python3
"""Generate the Python stubs in sage_proto/ from protos/ (the one command).

    python scripts/gen_protos.py          # regenerate sage_proto/
    python scripts/gen_protos.py --check  # exit 1 if sage_proto/ is stale

protoc names Python modules after proto paths (`sage/kv/v1/kv.proto` ->
`sage.kv.v1.kv_pb2`). A top-level `sage` package would collide with SAGE and
SageMath, so the tree is placed under `sage_proto/` and the generated
cross-imports are rewritten to match. Output depends only on the inputs and the
pinned grpcio-tools version. The google/api protos that protos/ imports are not generated:
googleapis-common-protos, a dependency, provides `google.api.annotations_pb2`.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loaded by path from the tests, too
# scripts/proto_deps.py: where the google/api protos of googleapis-common-protos are
from proto_deps import include_dir  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT_PACKAGE = "sage_proto"
_IMPORT = re.compile(r"^(from|import) sage\.", re.MULTILINE)


def _generate(dest: Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    builtin = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as raw_dir:
        args = [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"-I{builtin}",
            f"-I{include_dir()}",
            f"--python_out={raw_dir}",
            f"--pyi_out={raw_dir}",
            f"--grpc_python_out={raw_dir}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed (see the message above)")
        raw = Path(raw_dir) / "sage"
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "__init__.py").write_text(
            '"""Generated gRPC/protobuf stubs for the SAGE Mesh contracts. Do not edit:\n'
            'run `python scripts/gen_protos.py`."""\n'
        )
        for src in sorted(raw.rglob("*")):
            rel = src.relative_to(raw)
            target = dest / rel
            if src.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            text = _IMPORT.sub(lambda m: f"{m.group(1)} {OUT_PACKAGE}.", src.read_text())
            target.write_text(text)
        for pkg in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
            init = pkg / "__init__.py"
            if not init.exists():
                init.write_text("")


def _diff(a: Path, b: Path) -> list[str]:
    files_a = {
        p.relative_to(a) for p in a.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    files_b = {
        p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    stale = sorted(str(p) for p in files_a ^ files_b)
    stale += sorted(
        str(p) for p in files_a & files_b if not filecmp.cmp(a / p, b / p, shallow=False)
    )
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if sage_proto/ differs from a fresh generation"
    )
    args = parser.parse_args()
    target = ROOT / OUT_PACKAGE
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / OUT_PACKAGE
        _generate(fresh)
        if args.check:
            stale = _diff(fresh, target)
            if stale:
                print(
                    "sage_proto/ is stale; run `python scripts/gen_protos.py`. Differs:",
                    *stale,
                    sep="\n  ",
                )
                return 1
            print("sage_proto/ is up to date")
            return 0
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(fresh, target)
    print(f"generated {OUT_PACKAGE}/ from {PROTO_ROOT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
