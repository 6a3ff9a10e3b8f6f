"""The `sage` command: one entry point, one module per command group."""

from __future__ import annotations

import argparse
import sys

from sage_cli import (
    auth_commands,
    job_commands,
    keys_commands,
    kv_commands,
    llm_commands,
    memory_commands,
    mesh_commands,
    vdb_commands,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sage", description="SAGE Mesh: streaming LLM/RAG dataflows on a gRPC mesh."
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    mesh_commands.register(groups)
    auth_commands.register(groups)
    kv_commands.register(groups)
    llm_commands.register(groups)
    keys_commands.register(groups)
    job_commands.register(groups)
    memory_commands.register(groups)
    vdb_commands.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
