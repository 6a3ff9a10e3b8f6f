"""python -m sage_gateway: run the OpenAI-compatible gateway."""

from __future__ import annotations

import argparse
import sys

from sage_gateway.config import GatewayConfig
from sage_gateway.server import GatewayProcess
from sage_runtime.config import ConfigError, load_config
from sage_runtime.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sage-gateway", description="OpenAI-compatible HTTP gateway of SAGE Mesh"
    )
    parser.add_argument(
        "--config", help="YAML settings file (SAGE_* environment variables override it)"
    )
    parser.add_argument("--port", type=int)
    parser.add_argument("--host")
    args = parser.parse_args(argv)
    try:
        config = load_config(GatewayConfig, args.config, port=args.port, host=args.host)
    except ConfigError as exc:
        print(f"sage-gateway: {exc}", file=sys.stderr)
        return 2
    setup_logging("gateway", config.instance_id, config.log_level, config.log_format)
    return GatewayProcess(config).serve()


if __name__ == "__main__":
    sys.exit(main())
