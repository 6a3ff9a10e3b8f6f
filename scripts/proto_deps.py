#!/usr/bin/env python3
"""The .proto files protos/ imports from outside itself: google/api (the HTTP rules).

They ship inside the installed `googleapis-common-protos` package (a dependency of the
project), so nothing is vendored in the repository:

    python scripts/proto_deps.py            # copy them into build/proto-deps (buf's second module)
    python scripts/proto_deps.py --include  # print the installed package's directory (protoc -I)

protoc takes the package's directory as an include path. buf cannot (buf.build's registry,
where `deps:` would come from, is not reachable from every machine), so buf.yaml names
build/proto-deps as a second module of the workspace; scripts/buf.sh fills it before buf runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE_DIR = ROOT / "build" / "proto-deps"
# What protos/ imports, and what those import in turn (google/protobuf/* are built into protoc and buf).
FILES = ("google/api/annotations.proto", "google/api/http.proto")


def include_dir() -> Path:
    """The directory of the installed googleapis-common-protos that holds google/api/*.proto."""
    spec = importlib.util.find_spec("google.api")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("googleapis-common-protos is not installed (pip install -e .)")
    for location in spec.submodule_search_locations:
        root = Path(location).parent.parent
        if all((root / name).is_file() for name in FILES):
            return root
    raise SystemExit(f"the installed googleapis-common-protos lacks {', '.join(FILES)}")


def materialise(dest: Path = MODULE_DIR) -> Path:
    """Copy FILES into ``dest`` (rewritten only when they differ, so buf's cache stays warm)."""
    source = include_dir()
    for name in FILES:
        target = dest / name
        data = (source / name).read_bytes()
        if not target.is_file() or target.read_bytes() != data:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--include", action="store_true", help="print the include directory for protoc"
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=MODULE_DIR,
        help="where to copy the files (default: %(default)s)",
    )
    args = parser.parse_args()
    print(include_dir() if args.include else materialise(args.dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
