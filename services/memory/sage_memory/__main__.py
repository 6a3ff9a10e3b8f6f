"""python -m sage_memory: run the memory service."""

import sys

from sage_memory.config import MemoryConfig
from sage_memory.server import build_spec
from sage_runtime import service_main

if __name__ == "__main__":
    sys.exit(service_main(MemoryConfig, build_spec, prog="sage-memory"))
