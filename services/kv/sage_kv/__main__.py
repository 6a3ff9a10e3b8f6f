"""python -m sage_kv: run the KV service."""

import sys

from sage_kv.config import KVConfig
from sage_kv.server import build_spec
from sage_runtime import service_main

if __name__ == "__main__":
    sys.exit(service_main(KVConfig, build_spec, prog="sage-kv"))
