"""python -m sage_studio: run SAGE Studio's server (the web console's bundle and its API)."""

from __future__ import annotations

import argparse
import sys

from sage_runtime.config import ConfigError, load_config
from sage_runtime.logs import setup_logging
from sage_studio.config import StudioConfig
from sage_studio.server import StudioProcess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sage-studio", description="SAGE Studio, the web console")
    parser.add_argument(
        "--config", help="YAML settings file (SAGE_* environment variables override it)"
    )
    parser.add_argument("--port", type=int)
    parser.add_argument("--host")
    args = parser.parse_args(argv)
    try:
        config = load_config(StudioConfig, args.config, port=args.port, host=args.host)
    except ConfigError as exc:
        print(f"sage-studio: {exc}", file=sys.stderr)
        return 2
    setup_logging("studio", config.instance_id, config.log_level, config.log_format)
    return StudioProcess(config).serve()


if __name__ == "__main__":
    sys.exit(main())
