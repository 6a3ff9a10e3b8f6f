"""python -m sage_vdb: run the VDB service."""

import os
import sys

# Parallelism comes from concurrent requests (one pool thread each, see server.py). An OpenMP
# team per native call only adds fork/join and spin-waits, which cost 10x on a busy host. It
# must be set before sage_native (and libgomp with it) is loaded; an explicit setting wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from sage_runtime import service_main  # noqa: E402
from sage_vdb.config import VDBConfig  # noqa: E402
from sage_vdb.server import build_spec  # noqa: E402

if __name__ == "__main__":
    sys.exit(service_main(VDBConfig, build_spec, prog="sage-vdb"))
