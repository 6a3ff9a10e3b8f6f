"""Hybrid retrieval: dense, BM25 and their fusion compared on the shipped question set.

    python examples/rag/hybrid_retrieval.py

Indexes docs/, runs each retriever over examples/rag/questions.jsonl (no generation) and prints
recall@5 per retriever, then the hybrid hits of the first question.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sage_client import find_files, format_answer, open_collection, read_jsonl, summarize
from sage_client.rag.pipelines import answer_questions, ingest

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    questions = read_jsonl(ROOT / "examples" / "rag" / "questions.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        collection = open_collection(Path(tmp) / "docs")
        ingest(find_files(ROOT / "docs", relative_to=ROOT), collection, root=ROOT)
        by_id = {}
        for name in ("dense", "bm25", "hybrid"):
            records = answer_questions(
                questions,
                retriever=name,
                retriever_config={"collection": collection},
                generate=False,
            )
            recall = summarize(records)["recall_at_5"]["mean"]
            print(f"{name:<7} recall@5 = {recall:.3f}")
            by_id[name] = {r["id"]: r for r in records}
        first = by_id["hybrid"][questions[0]["id"]]
        print("\n" + format_answer(first | {"answer": "(retrieval only)"}, max_sources=5))


if __name__ == "__main__":
    main()
