"""python -m sage_studio: run SAGE Studio's server (the web console's bundle and its API)."""

from __future__ import annotations

import sys

from sage_runtime.http_process import http_main
from sage_studio.config import StudioConfig
from sage_studio.server import StudioProcess


def main(argv: list[str] | None = None) -> int:
    return http_main(
        "sage-studio", "SAGE Studio, the web console", StudioConfig, StudioProcess, argv
    )


if __name__ == "__main__":
    sys.exit(main())
