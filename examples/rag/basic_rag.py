"""Basic RAG: index the project's docs/, then answer questions with dense retrieval.

    python examples/rag/basic_rag.py                 # SmolLM2 on CPU, in this process
    python examples/rag/basic_rag.py --backend mock  # fast, meaningless answers

Pipeline: questions -> DenseRetriever -> QAPromptor -> SageLLMGenerator -> TerminalSink.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from sage_client import (
    DenseRetriever,
    LocalEnvironment,
    QAPromptor,
    SageLLMGenerator,
    TerminalSink,
    find_files,
    open_collection,
)
from sage_client.rag.pipelines import ingest

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [
    "Which command starts the mesh on one machine without Docker?",
    "What is the default lease TTL for service registration?",
    "How many dimensions do the all-MiniLM-L6-v2 embeddings have?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend", default="cpu", help="SageLLMGenerator backend_type (cpu, mock, auto)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        collection = open_collection(Path(tmp) / "docs")
        chunks = ingest(find_files(ROOT / "docs", relative_to=ROOT), collection, root=ROOT)
        print(f"indexed {chunks} chunks from docs/\n")

        env = LocalEnvironment("basic-rag")
        (
            env.from_batch(QUESTIONS)
            .map(DenseRetriever, {"collection": collection, "top_k": 3})
            .map(QAPromptor, {"max_context_chars": 500})
            .map(
                SageLLMGenerator, {"backend_type": args.backend, "temperature": 0, "max_tokens": 48}
            )
            .sink(TerminalSink)
        )
        env.submit(autostop=True)


if __name__ == "__main__":
    main()
