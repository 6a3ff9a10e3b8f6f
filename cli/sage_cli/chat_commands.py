"""`sage chat`: questions over an index of a folder, answered with their sources.

    sage chat --source docs/ --ask "Which command starts the mesh?"   # one answer, then exit
    sage chat --source docs/                                          # a question per line

``--mode mesh`` embeds, stores and generates on the mesh (the LLM service and the VDB service,
found through etcd); ``--mode embedded`` does it all in this process (the native core, MiniLM,
SmolLM2 or ``--backend mock``); ``auto`` (the default) takes the mesh when an LLM and a VDB
instance are registered. The index is built once per folder and rebuilt when a file changes.
It is the RAG pipelines of ``sage_client.rag`` (ingest, hybrid retrieval, QAPromptor,
SageLLMGenerator), as the examples run them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from sage_cli import settings as cli_settings

SUFFIXES = (".md", ".txt", ".pdf", ".jsonl", ".rst")


def _manifest(files: list[Path]) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in files}


def _mesh_ready() -> str:
    """Why the mesh cannot answer ("" when it can: an LLM and a VDB instance are serving)."""
    from sage_client.discovery import default_resolver

    try:
        resolver = default_resolver()
        missing = [s for s in ("llm", "vdb") if not resolver.instances(s)]
    except Exception as exc:  # noqa: BLE001 - no etcd, bad credentials...
        return f"no mesh found ({exc})"
    return f"no {' or '.join(missing)} instance registered" if missing else ""


class ChatIndex:
    """The folder's chunks in a collection: in-process under the run directory, or on the VDB
    service as ``sage-chat-<digest of the folder's path>``."""

    def __init__(self, source: Path, mode: str, run_dir: Path) -> None:
        from sage_client.rag.loaders import find_files

        self.source = source.resolve()
        self.mode = mode
        # relative names: the answers cite `notes.md#0`, not the whole path
        self.names = find_files(self.source, SUFFIXES, relative_to=self.source)
        self.files = [self.source / name for name in self.names]
        if not self.files:
            raise ValueError(f"{source} has no {', '.join(SUFFIXES)} file to index")
        digest = hashlib.sha256(str(self.source).encode()).hexdigest()[:12]
        self.name = f"sage-chat-{digest}"
        self.folder = run_dir.resolve() / "chat-index" / digest
        self.manifest_path = self.folder / "manifest.json"

    def _fresh(self) -> bool:
        try:
            return json.loads(self.manifest_path.read_text()) == {
                "mode": self.mode,
                "files": _manifest(self.files),
            }
        except (OSError, ValueError):
            return False

    def open(self, rebuild: bool, say: Any) -> Any:
        from sage_client.progress import Progress
        from sage_client.rag.pipelines import ingest

        fresh = self._fresh() and not rebuild
        collection = self._collection(fresh)
        if not fresh:
            say(f"indexing {len(self.files)} files of {self.source} ({self.mode}) ...")
            mesh = True if self.mode == "mesh" else None
            with Progress("index (chunks embedded)", unit="chunks") as bar:
                chunks = ingest(
                    self.names, collection, root=self.source, mesh=mesh, on_batch=bar.advance
                )
            self.folder.mkdir(parents=True, exist_ok=True)
            self.manifest_path.write_text(
                json.dumps({"mode": self.mode, "files": _manifest(self.files)})
            )
            say(f"indexed {chunks} chunks")
        return collection

    def _collection(self, fresh: bool) -> Any:
        if self.mode == "mesh":
            from sage_client import VDBClient
            from sage_client.rag.store import VDBCollection

            client = VDBClient(timeout=60.0)
            if not fresh and any(c.name == self.name for c in client.list_collections()):
                client.delete_collection(self.name)
            return VDBCollection(client, self.name)
        from sage_client.rag.store import open_collection

        store = self.folder / "collection"
        if not fresh:
            shutil.rmtree(store, ignore_errors=True)
        store.parent.mkdir(parents=True, exist_ok=True)
        return open_collection(store)


def _answer(questions: list[str], collection: Any, args: argparse.Namespace) -> None:
    from sage_client.rag.io import format_answer
    from sage_client.rag.pipelines import answer_questions

    mesh = {"mesh": True} if args.mode == "mesh" else {}
    generator: dict[str, Any] = {"temperature": 0, "max_tokens": args.max_tokens, **mesh}
    if args.mode == "mesh":
        generator["model"] = args.model or ""
    else:
        generator["backend_type"] = args.backend
        if args.model:
            generator["model_path"] = args.model
    answer_questions(
        questions,
        retriever=args.retriever,
        retriever_config={"collection": collection, **mesh},
        promptor_config={"max_context_chars": 1200},
        generator_config=generator,
        k=args.top_k,
        on_record=lambda r: print(format_answer(r, args.top_k) + "\n", flush=True),
    )


def _chat(args: argparse.Namespace) -> int:
    from sage_client import SageError

    source = Path(args.source)
    if not source.is_dir():
        print(f"error: --source {source} is not a folder", file=sys.stderr)
        return 2
    if args.mode in ("auto", "mesh"):
        why = _mesh_ready()
        if why and args.mode == "mesh":
            print(f"error: --mode mesh: {why}; start it with `sage mesh up`", file=sys.stderr)
            return 1
        args.mode = "embedded" if why else "mesh"

    def say(text: str) -> None:
        print(f"[sage chat] {text}", file=sys.stderr, flush=True)

    try:
        index = ChatIndex(source, args.mode, Path(args.run_dir))
        collection = index.open(args.reindex, say)
        if args.ask:
            _answer(args.ask, collection, args)
            return 0
        say("ask a question per line; an empty line or Ctrl-D ends")
        for line in sys.stdin:
            question = line.strip()
            if not question or question in ("exit", "quit"):
                break
            _answer([question], collection, args)
        return 0
    except (SageError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def register(groups: argparse._SubParsersAction) -> None:
    defaults = cli_settings.load_or_defaults()
    p = groups.add_parser("chat", help="ask questions over an index of a folder (mesh or embedded)")
    p.add_argument("--source", "-s", default="docs", help="the folder to index (default docs/)")
    p.add_argument("--ask", "-a", action="append", help="a question (repeatable); none: read stdin")
    p.add_argument("--mode", choices=("auto", "mesh", "embedded"), default="auto")
    p.add_argument(
        "--backend",
        default="cpu",
        choices=("auto", "cpu", "cuda", "mock", "llamacpp"),
        help="embedded generation engine (default cpu: SmolLM2; mock: fast, meaningless)",
    )
    p.add_argument("--model", default="", help="model path (embedded) or name (mesh)")
    p.add_argument("--retriever", choices=("dense", "bm25", "hybrid"), default="hybrid")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=96)
    p.add_argument("--reindex", action="store_true", help="rebuild the index even if fresh")
    p.add_argument("--run-dir", default=defaults["run_dir"], help="where the embedded index lives")
    p.set_defaults(func=_chat)
