"""python -m sage_kernel: run the job manager (sage.kernel.v1.JobService)."""

import sys

from sage_kernel.config import KernelConfig
from sage_kernel.server import build_spec
from sage_runtime import service_main

if __name__ == "__main__":
    sys.exit(service_main(KernelConfig, build_spec, prog="sage-kernel"))
