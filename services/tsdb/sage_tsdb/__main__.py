"""python -m sage_tsdb: run the TSDB service."""

import os
import sys

# The native calls run one per pool thread; an OpenMP team per call only adds spin-waits.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from sage_runtime import service_main  # noqa: E402
from sage_tsdb.config import TSDBConfig  # noqa: E402
from sage_tsdb.server import build_spec  # noqa: E402

if __name__ == "__main__":
    sys.exit(service_main(TSDBConfig, build_spec, prog="sage-tsdb"))
