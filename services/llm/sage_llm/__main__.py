"""python -m sage_llm: run the LLM service."""

import sys

from sage_llm.config import LLMConfig
from sage_llm.server import build_spec
from sage_runtime import service_main

if __name__ == "__main__":
    sys.exit(service_main(LLMConfig, build_spec, prog="sage-llm"))
