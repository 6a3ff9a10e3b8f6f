"""python -m sage_vdb: run the VDB service."""
import sys

from sage_runtime import service_main
from sage_vdb.config import VDBConfig
from sage_vdb.server import build_spec

if __name__ == "__main__":
    sys.exit(service_main(VDBConfig, build_spec, prog="sage-vdb"))
