"""The named tasks every worker runs. Arguments are JSON; each reports progress as it goes.

| name | does |
|---|---|
| ``sage.echo`` | returns ``value`` after ``steps`` steps of ``step_s`` seconds (probes, tests, bench) |
| ``sage.ingest_folder`` | loads, chunks, embeds (mesh LLM) and upserts a folder into a VDB collection |
| ``sage.embed_batch`` | embeds texts with the mesh's LLM service, in batches |
| ``sage.evaluate`` | answers and scores questions against a VDB collection (retrieval metrics) |
| ``sage.run_function`` | calls an operator-allow-listed ``module:function`` (``functions.py``) |

Tasks that touch the mesh call it with the worker's own credential (principal ``service``),
so a task can do no more than a mesh member may.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from celery import shared_task

from sage_client.errors import InvalidArgument, PermissionDenied
from sage_tasks import functions
from sage_tasks.base import SageTask

DEFAULT_SUFFIXES = (".md", ".txt", ".pdf", ".jsonl")


@shared_task(bind=True, base=SageTask, name="sage.echo")
def echo(self: SageTask, value: Any = None, steps: int = 0, step_s: float = 0.0) -> Any:
    steps = int(steps)
    for i in range(steps):
        time.sleep(float(step_s))
        self.progress(i + 1, steps)
    return value


def _confined(folder: str, roots: Sequence[str]) -> Path:
    """``folder`` resolved, inside one of ``roots`` (the worker's working directory when
    none are configured); PermissionDenied otherwise."""
    path = Path(folder).expanduser()
    path = (path if path.is_absolute() else Path.cwd() / path).resolve()
    allowed = [Path(r).expanduser().resolve() for r in roots] or [Path.cwd().resolve()]
    if not any(path == r or r in path.parents for r in allowed):
        raise PermissionDenied(
            f"folder {str(path)!r} is outside the folders this worker may read "
            f"({', '.join(map(str, allowed))}; the operator sets SAGE_INGEST_ROOTS)"
        )
    if not path.is_dir():
        raise InvalidArgument(f"folder {str(path)!r} is not a directory on the worker")
    return path


@shared_task(bind=True, base=SageTask, name="sage.ingest_folder")
def ingest_folder(
    self: SageTask,
    collection: str,
    folder: str,
    suffixes: Sequence[str] = DEFAULT_SUFFIXES,
    chunk_size: int = 120,
    chunk_overlap: int = 30,
) -> dict[str, Any]:
    from sage_client.rag.loaders import find_files
    from sage_client.rag.pipelines import ingest
    from sage_client.rag.store import VDBCollection
    from sage_client.vdb import VDBClient

    if not isinstance(collection, str) or not collection:
        raise InvalidArgument("collection must name a VDB collection")
    root = _confined(folder, self.app.conf.sage_ingest_roots)
    files = find_files(root, suffixes, relative_to=root)
    written = 0

    def on_batch(n: int) -> None:
        nonlocal written
        written += n
        self.progress(written, None, files=len(files))

    with VDBClient() as vdb:
        chunks = ingest(
            files,
            VDBCollection(vdb, collection),
            root=root,
            mesh=True,
            chunk_size=int(chunk_size),
            chunk_overlap=int(chunk_overlap),
            on_batch=on_batch,
        )
    return {"collection": collection, "files": len(files), "chunks": chunks}


@shared_task(bind=True, base=SageTask, name="sage.embed_batch")
def embed_batch(self: SageTask, texts: Sequence[str], batch_size: int = 64) -> list[list[float]]:
    from sage_client.llm.embeddings import EmbeddingClient

    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise InvalidArgument("texts must be a list of strings")
    batch_size = int(batch_size)
    if batch_size <= 0:
        raise InvalidArgument(f"batch_size must be positive, got {batch_size}")
    client = EmbeddingClient(mesh=True)
    out: list[list[float]] = []
    for start in range(0, len(texts), batch_size):
        out.extend(client.embed(texts[start : start + batch_size]).tolist())
        self.progress(len(out), len(texts))
    return out


@shared_task(bind=True, base=SageTask, name="sage.evaluate")
def evaluate(
    self: SageTask,
    collection: str,
    questions: Sequence[Mapping[str, Any] | str],
    k: int = 5,
    retriever: str = "dense",
    generate: bool = False,
) -> dict[str, Any]:
    from sage_client.rag.evaluators import summarize
    from sage_client.rag.pipelines import answer_questions
    from sage_client.vdb import VDBClient

    if not isinstance(questions, list) or not questions:
        raise InvalidArgument("questions must be a non-empty list of questions")
    done = 0

    def on_record(_: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        self.progress(done, len(questions))

    with VDBClient() as vdb:
        records = answer_questions(
            questions,
            retriever=retriever,
            retriever_config={"vdb": vdb, "collection": collection, "mesh": True},
            generator_config={"mesh": True},
            k=int(k),
            generate=bool(generate),
            on_record=on_record,
        )
    return {"questions": len(records), "summary": summarize(records)}


@shared_task(bind=True, base=SageTask, name="sage.run_function")
def run_function(
    self: SageTask,
    function: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    fn = functions.resolve(function, self.app.conf.sage_allowed_modules)
    return fn(*list(args), **dict(kwargs or {}))
