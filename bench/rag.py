#!/usr/bin/env python3
"""RAG figures on the shipped question set (examples/rag/questions.jsonl, about docs/).

- recall_at_5_dense / _bm25 / _hybrid: share of the gold source documents among the sources of
  the top-5 chunks, per retriever, over the same index of docs/ (token chunks of 120 words).
- answer_f1: SQuAD token F1 of SmolLM2-135M-Instruct's answers (CPU, greedy, 24 new tokens) with
  hybrid retrieval (the best 3 chunks in the prompt, 400 characters each), against answer_f1_no_retrieval: the same model and prompt without context.
- questions_per_s: questions answered per second by the hybrid pipeline (retrieve, prompt,
  generate, evaluate), four generator instances sharing one batched engine.

    python bench/rag.py [--quick]

Runs everything in this process (sage_native collection, in-process engines). The last stdout
line is one JSON object; the targets are checked in it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)

from sage_client import find_files, open_collection, read_jsonl, summarize  # noqa: E402
from sage_client.llm import EmbeddingClient  # noqa: E402
from sage_client.rag.pipelines import answer_questions, ingest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer generated answers (about a minute)"
    )
    parser.add_argument("--questions", default=str(ROOT / "examples" / "rag" / "questions.jsonl"))
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--context-k", type=int, default=3, help="chunks put in the prompt")
    args = parser.parse_args()

    questions = read_jsonl(args.questions)
    generated = questions[::3] if args.quick else questions  # quick: every third, all docs covered
    figures: dict[str, object] = {
        "questions": len(questions),
        "generated_questions": len(generated),
    }

    with tempfile.TemporaryDirectory() as tmp:
        embedder = EmbeddingClient()
        collection = open_collection(Path(tmp) / "docs")
        t0 = time.perf_counter()
        figures["chunks"] = ingest(
            find_files(ROOT / "docs", relative_to=ROOT), collection, root=ROOT, embedder=embedder
        )
        figures["ingest_s"] = round(time.perf_counter() - t0, 2)
        print(f"indexed {figures['chunks']} chunks in {figures['ingest_s']} s", file=sys.stderr)

        retriever_cfg = {"collection": collection, "embedder": embedder}
        for name in ("dense", "bm25", "hybrid"):
            records = answer_questions(
                questions, retriever=name, retriever_config=retriever_cfg, generate=False
            )
            figures[f"recall_at_5_{name}"] = round(summarize(records)["recall_at_5"]["mean"], 4)
            print(f"recall@5 {name}: {figures[f'recall_at_5_{name}']}", file=sys.stderr)

        gen_cfg = {"backend_type": "cpu", "temperature": 0, "max_tokens": args.max_tokens}
        # Untimed warm-up: loads the model so questions_per_s measures answering only.
        t0 = time.perf_counter()
        answer_questions(generated[:1], retriever=None, generator_config=gen_cfg)
        print(
            f"model loaded and warm in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
            flush=True,
        )

        t0 = time.perf_counter()
        rag = answer_questions(
            generated,
            retriever="hybrid",
            retriever_config=retriever_cfg,
            promptor_config={"max_context_chars": 400},
            generator_config=gen_cfg,
            k=args.context_k,
            parallelism=4,
            on_record=lambda r: print(
                f"rag  {r.get('id')}: {r['answer'][:60]!r}", file=sys.stderr, flush=True
            ),
        )
        elapsed = time.perf_counter() - t0
        bare = answer_questions(
            generated,
            retriever=None,
            generator_config=gen_cfg,
            parallelism=4,
            on_record=lambda r: print(
                f"bare {r.get('id')}: {r['answer'][:60]!r}", file=sys.stderr, flush=True
            ),
        )

    rag_summary, bare_summary = summarize(rag), summarize(bare)
    figures["answer_f1"] = round(rag_summary["f1"]["mean"], 4)
    figures["answer_f1_no_retrieval"] = round(bare_summary["f1"]["mean"], 4)
    figures["answer_rouge_l"] = round(rag_summary["rouge_l"]["mean"], 4)
    figures["context_recall"] = round(rag_summary["context_recall"]["mean"], 4)
    figures["questions_per_s"] = round(len(generated) / elapsed, 3)
    best_single = max(float(figures["recall_at_5_dense"]), float(figures["recall_at_5_bm25"]))  # type: ignore[arg-type]
    figures["target_hybrid_recall_met"] = float(figures["recall_at_5_hybrid"]) >= best_single  # type: ignore[arg-type]
    figures["target_f1_2x_met"] = float(figures["answer_f1"]) >= 2 * float(
        figures["answer_f1_no_retrieval"]
    )  # type: ignore[arg-type]
    figures["quick"] = args.quick
    figures["cpu_count"] = os.cpu_count()
    figures["machine"] = platform.machine()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
