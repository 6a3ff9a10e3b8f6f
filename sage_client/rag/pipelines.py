"""Ready-made pipelines shared by the examples, the benchmark and the main job: ingest files into
a collection, and answer a batch of questions. Each builds a DataStream job from the operators of
this package and runs it to the end."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sage_client.dataflow.api.environment import LocalEnvironment
from sage_client.dataflow.api.functions import SinkFunction
from sage_client.rag.chunkers import TokenChunker
from sage_client.rag.evaluators import Evaluator
from sage_client.rag.extractive import AnswerExtractor
from sage_client.rag.generators import SageLLMGenerator
from sage_client.rag.indexing import ChunkIndexer
from sage_client.rag.loaders import DocumentLoader
from sage_client.rag.promptors import QAPromptor
from sage_client.rag.retrievers import BM25Retriever, DenseRetriever, HybridRetriever

RETRIEVERS = {"dense": DenseRetriever, "bm25": BM25Retriever, "hybrid": HybridRetriever}


def ingest(
    files: Sequence[str],
    collection: Any,
    *,
    root: str | Path | None = None,
    embedder: Any = None,
    mesh: Any = None,
    chunk_size: int = 120,
    chunk_overlap: int = 30,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Load, chunk (by tokens), embed and index ``files``; returns the number of chunks written."""
    indexer_cfg: dict[str, Any] = {"collection": collection, "batch_size": 32, "on_batch": on_batch}
    if embedder is not None:
        indexer_cfg["embedder"] = embedder
    if mesh is not None:
        indexer_cfg["mesh"] = mesh
    counter = _Counter()
    env = LocalEnvironment("rag-ingest")
    (
        env.from_batch(list(files))
        .flatmap(DocumentLoader, {"root": str(root)} if root else {})
        .flatmap(TokenChunker, {"chunk_size": chunk_size, "chunk_overlap": chunk_overlap})
        .map(counter)
        .sink(ChunkIndexer, indexer_cfg)
    )
    env.submit(autostop=True)
    return counter.n


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, record: Any) -> Any:
        self.n += 1
        return record


class _Collect(SinkFunction):
    def __init__(
        self, out: list[dict[str, Any]], each: Callable[[dict[str, Any]], None] | None
    ) -> None:
        super().__init__()
        self.out = out
        self.each = each

    def execute(self, data: dict[str, Any]) -> None:
        self.out.append(data)
        if self.each is not None:
            self.each(data)


def answer_questions(
    questions: Iterable[Mapping[str, Any] | str],
    *,
    retriever: str | None = "hybrid",
    retriever_config: Mapping[str, Any] | None = None,
    promptor_config: Mapping[str, Any] | None = None,
    generator: Any = None,
    generator_config: Mapping[str, Any] | None = None,
    k: int = 5,
    generate: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    parallelism: int = 1,
    extract: Mapping[str, Any] | bool | None = None,
) -> list[dict[str, Any]]:
    """Retrieve (``retriever`` = dense | bm25 | hybrid | None for no retrieval), prompt, generate
    and evaluate every question; returns the scored records in completion order.

    ``generator`` is a generator class (default SageLLMGenerator) configured by
    ``generator_config``. ``parallelism`` > 1 runs that many generator instances so requests to
    the LLM service overlap (the service batches them). ``extract`` (True or an AnswerExtractor
    config) puts AnswerExtractor after the generator (or, with ``generate=False``, alone):
    ``answer`` becomes the best span of the retrieved chunks, the model's text stays as
    ``generated``."""
    records: list[dict[str, Any]] = []
    # Records travel one by one: each takes seconds to generate, so a finished answer should
    # reach the sink (and a progress bar) at once, not wait for the rest of its batch.
    env = LocalEnvironment("rag-answer", config={"runtime": {"batch_size": 1}})
    stream = env.from_batch(list(questions))
    if retriever is not None:
        if retriever not in RETRIEVERS:
            raise ValueError(
                f"retriever must be one of {sorted(RETRIEVERS)} or None, got {retriever!r}"
            )
        stream = stream.map(RETRIEVERS[retriever], {"top_k": k, **(retriever_config or {})})
    if generate:
        prompt_cfg = {"use_context": retriever is not None, **(promptor_config or {})}
        stream = stream.map(QAPromptor, prompt_cfg).map(
            generator or SageLLMGenerator, dict(generator_config or {}), parallelism=parallelism
        )
    if extract:  # after the generator, or alone: the span is the answer, no model text
        stream = stream.map(AnswerExtractor, {} if extract is True else dict(extract))
    stream.map(Evaluator, {"k": k}).sink(_Collect, records, on_record)
    env.submit(autostop=True)
    return records
