"""Conversational RAG: each session keeps its conversation as keyed state, so a follow-up
question is answered with the earlier turns in the prompt.

    python examples/rag/conversational_rag.py [--backend mock]

Pipeline: turns -> keyby(session) -> HybridRetriever -> Remember (adds history, stores the
question) -> ChatPromptor -> SageLLMGenerator -> Remember answers -> TerminalSink.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from sage_client import (
    ChatPromptor,
    HybridRetriever,
    LocalEnvironment,
    MapFunction,
    SageLLMGenerator,
    TerminalSink,
    find_files,
    open_collection,
)
from sage_client.rag.pipelines import ingest

ROOT = Path(__file__).resolve().parents[2]
TURNS = [
    {"session": "alice", "query": "Which command starts the mesh on one machine?"},
    {"session": "bob", "query": "What does the KV service store?"},
    {"session": "alice", "query": "And which command stops it again?"},
]


class AttachHistory(MapFunction):
    """Puts the session's earlier turns on the record, then remembers this question."""

    def execute(self, record: dict[str, Any]) -> dict[str, Any]:
        history = self.ctx.list_state("history")
        record["history"] = list(history.get())
        history.add({"role": "user", "content": record["query"]})
        return record


class RememberAnswer(MapFunction):
    def execute(self, record: dict[str, Any]) -> dict[str, Any]:
        self.ctx.list_state("history").add({"role": "assistant", "content": record["answer"]})
        return record


def _turn(record: dict[str, Any]) -> int:
    return 1 + sum(m["role"] == "user" for m in record["history"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        collection = open_collection(Path(tmp) / "docs")
        ingest(find_files(ROOT / "docs", relative_to=ROOT), collection, root=ROOT)
        # One record at a time: a turn must see the answer to the previous turn of its session.
        env = LocalEnvironment("conversational-rag", config={"runtime": {"batch_size": 1}})
        (
            env.from_batch(TURNS)
            .keyby(lambda r: r["session"])
            .map(HybridRetriever, {"collection": collection, "top_k": 2})
            .map(AttachHistory)
            .map(ChatPromptor, {"max_context_chars": 400})
            .map(
                SageLLMGenerator, {"backend_type": args.backend, "temperature": 0, "max_tokens": 40}
            )
            .map(RememberAnswer)
            .map(lambda r: r | {"query": f"[{r['session']}, turn {_turn(r)}] {r['query']}"})
            .sink(TerminalSink)
        )
        env.submit(autostop=True)


if __name__ == "__main__":
    main()
