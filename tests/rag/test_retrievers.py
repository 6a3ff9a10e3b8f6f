from pathlib import Path
from typing import Any

import pytest

from sage_client import (
    BM25Retriever,
    DenseRetriever,
    EmbeddingReranker,
    HybridRetriever,
    LLMReranker,
)
from sage_client.rag.rerankers import parse_score


def _sources(record: dict[str, Any]) -> list[str]:
    return [Path(r["source"]).name for r in record["results"]]


def test_ingestion_pipeline_indexes_every_sentence(indexed: Any) -> None:
    # discovery: title + 2 sentences; errors: title + 2; cooking: title + 1
    assert indexed.count() == 8


def test_dense_retriever_finds_a_paraphrase(indexed: Any, embedder: Any) -> None:
    r = DenseRetriever({"collection": indexed, "embedder": embedder, "top_k": 2})
    record = r.execute("Where do running servers announce themselves so clients can find them?")
    assert _sources(record)[0] == "discovery.md"
    assert record["timings"]["retrieve"] > 0


def test_bm25_retriever_finds_a_rare_exact_term(indexed: Any) -> None:
    record = BM25Retriever({"collection": indexed, "top_k": 1}).execute({"query": "E4711", "id": 7})
    assert _sources(record) == ["errors.md"]
    assert record["id"] == 7  # the question's own fields pass through
    assert "E4711" in record["results"][0]["text"]


def test_hybrid_retriever_keeps_both_kinds_of_match(indexed: Any, embedder: Any) -> None:
    r = HybridRetriever({"collection": indexed, "embedder": embedder, "top_k": 3})
    record = r.execute("what does E4711 mean for my soup recipe")
    assert {"errors.md", "cooking.md"} <= set(_sources(record))


def test_results_carry_source_position_and_score(indexed: Any) -> None:
    hit = BM25Retriever({"collection": indexed, "top_k": 1}).execute("onions butter")["results"][0]
    assert Path(hit["source"]).name == "cooking.md"
    assert hit["position"] == 1 and hit["id"].endswith("#1") and hit["score"] > 0


def test_retriever_rejects_unknown_options_and_missing_store() -> None:
    with pytest.raises(ValueError, match="topk"):
        DenseRetriever({"topk": 3, "path": "x"})
    with pytest.raises(ValueError, match="'collection'.*'path'"):
        BM25Retriever({}).execute("q")
    with pytest.raises(ValueError, match="fusion"):
        HybridRetriever({"path": "x", "fusion": "max"})


def test_retriever_rejects_a_record_without_query() -> None:
    with pytest.raises(ValueError, match="query"):
        BM25Retriever({"path": "unused"}).execute({"text": "no question here"})


def test_embedding_reranker_puts_the_relevant_chunk_first(embedder: Any) -> None:
    record = {
        "query": "how long does the soup simmer?",
        "results": [
            {"text": "Leases expire when an instance stops.", "source": "a"},
            {"text": "Simmer the stock for twenty minutes.", "source": "b"},
        ],
    }
    out = EmbeddingReranker({"embedder": embedder, "top_k": 1}).execute(record)
    assert [r["source"] for r in out["results"]] == ["b"]


def test_llm_reranker_orders_by_the_judges_scores() -> None:
    def judge(prompt: str) -> str:
        return "Score: 9" if "twenty" in prompt else "2 out of 10"

    record = {
        "query": "q",
        "results": [{"text": "x", "source": "a"}, {"text": "twenty", "source": "b"}],
    }
    out = LLMReranker({"llm": judge, "top_k": 2}).execute(record)
    assert [(r["source"], r["rerank_score"]) for r in out["results"]] == [("b", 9.0), ("a", 2.0)]


def test_unparsable_judgement_scores_zero() -> None:
    assert parse_score("I cannot tell") == 0.0
    assert parse_score("42") == 10.0
