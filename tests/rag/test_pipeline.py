"""A whole RAG pipeline on the local runtime: retrieve, prompt, generate (mock engine), evaluate."""

from typing import Any

import pytest

from sage_client import (
    EvaluationSummary,
    Evaluator,
    HybridRetriever,
    LocalEnvironment,
    QAPromptor,
    SageLLMGenerator,
    SinkFunction,
)
from sage_client.rag.evaluators import format_table, summarize

QUESTIONS = [
    {
        "id": 1,
        "query": "What does error E4711 mean?",
        "references": ["the request quota is spent"],
        "gold_sources": [],
    },
    {"id": 2, "query": "How long does the soup simmer?", "references": ["twenty minutes"]},
]


class Collect(SinkFunction):
    out: list[dict[str, Any]] = []

    def execute(self, data: dict[str, Any]) -> None:
        Collect.out.append(data)


def test_declarative_rag_pipeline_answers_and_scores(
    indexed: Any, embedder: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sage_llm")
    Collect.out = []
    questions = [
        q | {"gold_sources": [str(_source_of(indexed, name))]}
        for q, name in zip(QUESTIONS, ("errors.md", "cooking.md"), strict=True)
    ]
    env = LocalEnvironment("rag-test")
    scored = (
        env.from_batch(questions)
        .map(HybridRetriever, {"collection": indexed, "embedder": embedder, "top_k": 2})
        .map(QAPromptor, {})
        .map(SageLLMGenerator, {"backend_type": "mock", "max_tokens": 8, "temperature": 0})
        .map(Evaluator, {"k": 2})
    )
    scored.sink(Collect)
    scored.sink(EvaluationSummary)
    env.submit(autostop=True)

    assert sorted(r["id"] for r in Collect.out) == [1, 2]
    for r in Collect.out:
        assert r["answer"] and r["usage"]["completion_tokens"] > 0
        assert r["metrics"]["recall_at_2"] == 1.0
        assert set(r["metrics"]) >= {
            "f1",
            "exact_match",
            "rouge_l",
            "bleu",
            "context_recall",
            "latency_s",
            "tokens",
        }
        assert r["timings"]["retrieve"] > 0 and r["timings"]["generate"] > 0
    table = capsys.readouterr().out
    assert "recall_at_2" in table and "latency_s" in table


def _source_of(collection: Any, name: str) -> str:
    records = collection.get(include=["metadatas"])
    return next(m["source"] for m in records["metadatas"] if m["source"].endswith(name))


def test_summary_table_means_over_records_that_have_the_metric() -> None:
    summary = summarize([{"metrics": {"f1": 1.0}}, {"metrics": {"f1": 0.5, "tokens": 10}}])
    assert summary["f1"] == {"mean": 0.75, "min": 0.5, "max": 1.0, "n": 2.0}
    assert summary["tokens"]["n"] == 1.0
    lines = format_table(summary).splitlines()
    assert lines[2].split() == ["f1", "0.7500", "0.5000", "1.0000", "2"]


def test_evaluator_rejects_unknown_metric() -> None:
    with pytest.raises(ValueError, match="bleurt"):
        Evaluator({"metrics": ["bleurt"]})
