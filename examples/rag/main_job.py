#!/usr/bin/env python3
"""The main job: RAG over the project's own docs/ on the running mesh.

    sage mesh up --run-dir run && python examples/rag/main_job.py [--run-dir run]

1. ingests docs/ (load -> chunk -> embed -> index) through a DataStream pipeline;
2. answers the first --limit (40) of examples/rag/questions.jsonl (hybrid retrieval): SmolLM2
   through the mesh's LLM service quotes the context, and the answer is the best span of the
   retrieved chunks (sage_client.rag.extractive); prints each answer with its source;
3. prints the evaluation table;
4. shows one chat turn through the gateway with the ``openai`` SDK (when the mesh has one).

Ports come from ``<run-dir>/state.json``. Where the mesh does not (yet) run a service this job
needs, it says so and uses the in-process equivalent, so the job always completes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sage_client import (  # noqa: E402
    close_collection,
    find_files,
    format_answer,
    format_table,
    open_collection,
    read_jsonl,
    summarize,
)
from sage_client.progress import Progress  # noqa: E402
from sage_client.rag.pipelines import answer_questions, ingest  # noqa: E402
from sage_client.rag.promptors import QUOTE_SYSTEM, QUOTE_TEMPLATE  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODEL_HINT = "SmolLM2"


def mesh_ports(run_dir: Path) -> dict[str, int]:
    state = run_dir / "state.json"
    if not state.exists():
        raise SystemExit(
            f"no mesh state in {run_dir}/; start the mesh first: sage mesh up --run-dir {run_dir}"
        )
    return dict(json.loads(state.read_text())["ports"])


def find_llm(ports: dict[str, int]) -> tuple[Any, str]:
    """(LLMClient, model name) for the mesh's LLM service through Envoy, or (None, reason)."""
    from sage_client.llm import LLMClient

    candidates = [f"127.0.0.1:{ports['envoy']}"] if "envoy" in ports else []
    candidates += [
        f"127.0.0.1:{p}"
        for name, p in sorted(ports.items())
        if name.startswith("llm-") and not name.endswith("metrics")
    ]
    for address in candidates:
        client = LLMClient(address=address, timeout=10.0)
        try:
            models = client.models()
        except Exception as e:  # noqa: BLE001 - any failure means "not reachable here"
            reason = f"{address}: {type(e).__name__}"
            client.close()
            continue
        chat = [
            m["name"] for m in models if MODEL_HINT.lower() in str(m.get("name", "")).lower()
        ] or [m["name"] for m in models]
        if chat:
            client.close()
            return LLMClient(address=address), str(chat[0])
        client.close()
        reason = f"{address}: no models"
    return None, reason if candidates else "no envoy or llm port in state.json"


def mesh_collection(ports: dict[str, int]) -> tuple[Any, str]:
    """A fresh ``sage-docs`` collection on the mesh's VDB service through Envoy, or (None, why)."""
    if "envoy" not in ports:
        return None, "no envoy port"
    from sage_client import VDBClient
    from sage_client.rag.store import VDBCollection

    client = VDBClient(address=f"127.0.0.1:{ports['envoy']}", timeout=30.0)
    try:
        if any(c.name == "sage-docs" for c in client.list_collections()):
            client.delete_collection("sage-docs")  # rebuilt from docs/ each run: docs change
        return VDBCollection(client, "sage-docs"), "the VDB service (collection sage-docs)"
    except Exception as e:  # noqa: BLE001 - no VDB in this mesh: the in-process store is used
        client.close()
        return None, f"no VDB service ({type(e).__name__})"


def gateway_turn(ports: dict[str, int], model: str) -> None:
    if not any(name.startswith("gateway") for name in ports):
        print(
            "gateway: not part of this mesh yet (no 'gateway' port in state.json); chat turn skipped"
        )
        return
    port = ports["envoy"]  # the front door: Envoy routes /v1/* to the gateway instances
    try:
        from openai import OpenAI
    except ImportError:
        print("gateway: the openai SDK is not installed (pip install openai); chat turn skipped")
        return
    client = OpenAI(
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key=os.environ.get("SAGE_GATEWAY_KEY", "sage-demo"),
    )
    question = "In one sentence, what is a service mesh?"
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], max_tokens=48, temperature=0
    )
    print(
        f"gateway through Envoy (openai SDK, http://127.0.0.1:{port}/v1)\n  user: {question}\n  assistant: {reply.choices[0].message.content}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="run", type=Path)
    parser.add_argument(
        "--questions", default=ROOT / "examples" / "rag" / "questions.jsonl", type=Path
    )
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument(
        "--limit", type=int, default=40, help="answer the first N questions (0: all of them)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    ports = mesh_ports(args.run_dir)

    llm, model_or_reason = find_llm(ports)
    if llm is not None:
        generator_cfg: dict[str, Any] = {"mesh": llm, "model": model_or_reason}
        print(f"== LLM: {model_or_reason} through the mesh's LLM service")
    else:
        generator_cfg = {"backend_type": "auto"}  # llama.cpp for the bundled GGUF on a CPU
        print(
            f"== LLM: the mesh has no LLM service ({model_or_reason}); SmolLM2 runs in this process"
        )
    generator_cfg |= {"temperature": 0, "max_tokens": args.max_tokens}

    # -- 1. ingestion ----------------------------------------------------------------------------
    index_dir = args.run_dir.resolve() / "rag-index"
    files = find_files(ROOT / "docs", relative_to=ROOT)
    embed_cfg = {"mesh": llm} if llm is not None else {}
    collection, where = mesh_collection(ports)
    bar = Progress("ingest (chunks embedded)", unit="chunks")
    try:
        chunks = (
            ingest(files, collection, root=ROOT, on_batch=bar.advance, **embed_cfg)
            if collection
            else -1
        )
    except Exception as e:  # noqa: BLE001 - the in-process store keeps the job going
        print(
            f"\n== the VDB service refused the chunks ({type(e).__name__}: {e}); using an in-process store"
        )
        chunks = -1
    if chunks < 0:
        close_collection(index_dir)
        shutil.rmtree(index_dir, ignore_errors=True)  # rebuilt from docs/ each run: docs change
        collection, where = open_collection(index_dir), str(index_dir)
        chunks = ingest(files, collection, root=ROOT, on_batch=bar.advance, **embed_cfg)
    bar.close()
    print(f"== ingested {len(files)} docs as {chunks} chunks into {where}")

    # -- 2. answers --------------------------------------------------------------------------------
    questions = read_jsonl(args.questions)
    if args.limit > 0:
        questions = questions[: args.limit]
    bar = Progress("answer", total=len(questions), unit="questions")
    answered: list[dict[str, Any]] = []

    def on_record(record: dict[str, Any]) -> None:
        answered.append(record)
        bar.advance(1)

    records = answer_questions(
        questions,
        retriever="hybrid",
        retriever_config={"collection": collection, **embed_cfg},
        promptor_config={
            "max_context_chars": 400,
            "system": QUOTE_SYSTEM,
            "template": QUOTE_TEMPLATE,
        },
        generator_config=generator_cfg,
        k=3,
        on_record=on_record,
        parallelism=4,
        extract={"k": 3},  # the answer: the best span of the 3 chunks; the model's quote beside
    )
    bar.close()
    order = {q["id"]: i for i, q in enumerate(questions)}
    for record in sorted(records, key=lambda r: order.get(r.get("id"), 0)):
        print(format_answer(record) + f"\n   reference: {record['references'][0]}\n")

    # -- 3. evaluation -------------------------------------------------------------------------------
    print("== evaluation (hybrid retrieval, best 3 chunks; extractive answers)")
    print(format_table(summarize(records)))

    # -- 4. gateway --------------------------------------------------------------------------------
    print()
    try:
        gateway_turn(ports, model_or_reason if llm is not None else "SmolLM2-135M-Instruct")
    except Exception as e:  # noqa: BLE001 - the demo turn must not hide the results above
        print(f"gateway: chat turn failed: {type(e).__name__}: {e}")
    close_collection(index_dir)
    print(f"\n== main job done in {time.perf_counter() - started:.0f} s")
    print(f"The mesh is still running. Stop it with: sage mesh down --run-dir {args.run_dir}")


if __name__ == "__main__":
    main()
