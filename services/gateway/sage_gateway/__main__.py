"""python -m sage_gateway: run the OpenAI-compatible gateway."""

from __future__ import annotations

import sys

from sage_gateway.config import GatewayConfig
from sage_gateway.server import GatewayProcess
from sage_runtime.http_process import http_main


def main(argv: list[str] | None = None) -> int:
    return http_main(
        "sage-gateway",
        "OpenAI-compatible HTTP gateway of SAGE Mesh",
        GatewayConfig,
        GatewayProcess,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
