"""A ReAct agent with three tools: a calculator, a key-value lookup and a search over docs/.

    python examples/rag/react_agent.py [--backend mock]

The model sees each tool as JSON schema; tool errors go back to it as observations, and the
loop stops after --max-steps. A 135M model follows the format only sometimes: the printed
trace shows what it did.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from sage_client import (
    LocalEnvironment,
    ReActAgent,
    SageLLMGenerator,
    ToolRegistry,
    calculator,
    find_files,
    make_kv_lookup,
    make_vdb_search,
    open_collection,
)
from sage_client.llm import EmbeddingClient
from sage_client.rag.pipelines import ingest

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ["What is 17 * 23?", "What is the value stored under the key 'release'?"]


def print_trace(record: dict) -> None:
    print(f"Q: {record['query']}")
    for i, step in enumerate(record["steps"], 1):
        if "action" in step:
            print(
                f"  step {i}: {step['action']}({step['arguments']}) -> {step['observation'][:120]}"
            )
        else:
            print(f"  step {i}: {step.get('observation') or step['reply'][:120]}")
    print(f"A: {record['answer']}  [{record['stopped']}]\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cpu")
    parser.add_argument("--max-steps", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        collection = open_collection(Path(tmp) / "docs")
        embedder = EmbeddingClient()
        ingest(
            find_files(ROOT / "docs", relative_to=ROOT), collection, root=ROOT, embedder=embedder
        )
        tools = ToolRegistry()
        tools.register(calculator)
        tools.register(make_kv_lookup({"release": "0.1.0"}))
        tools.register(make_vdb_search(collection, embedder))
        llm = SageLLMGenerator({"backend_type": args.backend, "temperature": 0, "max_tokens": 96})

        env = LocalEnvironment("react-agent")
        env.from_batch(QUESTIONS).map(
            ReActAgent, {"llm": llm, "tools": tools, "max_steps": args.max_steps}
        ).sink(print_trace)
        env.submit(autostop=True)


if __name__ == "__main__":
    main()
