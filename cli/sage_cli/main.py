"""The `sage` command: one entry point, one module per command group."""

from __future__ import annotations

import argparse
import sys

from sage_cli import (
    auth_commands,
    chat_commands,
    config_commands,
    doctor_commands,
    extensions_commands,
    gateway_commands,
    job_commands,
    jobmanager_commands,
    keys_commands,
    kv_commands,
    llm_commands,
    memory_commands,
    mesh_commands,
    pipeline_commands,
    settings,
    studio_commands,
    task_commands,
    tsdb_commands,
    vdb_commands,
    version_commands,
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
    pipeline_commands.register(groups)
    task_commands.register(groups)
    memory_commands.register(groups)
    vdb_commands.register(groups)
    tsdb_commands.register(groups)
    # SAGE's commands (docs/cli.md)
    version_commands.register(groups)
    doctor_commands.register(groups)
    config_commands.register(groups)
    jobmanager_commands.register(groups)
    gateway_commands.register(groups)
    studio_commands.register(groups)
    extensions_commands.register(groups)
    chat_commands.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings.export_discovery()  # SAGE_ETCD_ENDPOINTS from ~/.sage/config.yaml or ./run's etcd
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
