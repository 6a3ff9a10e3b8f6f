"""The shipped question set stays answerable from docs/: every gold passage is a verbatim quote of
its gold source (docs change; a quote that no longer matches must be updated with the doc), and
the chunk-level metric finds a passage only inside a chunk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sage_client.rag.evaluators import Evaluator
from sage_client.rag.metrics import passage_hit_at_k, passage_text

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [
    json.loads(line)
    for line in (ROOT / "examples" / "rag" / "questions.jsonl").read_text().splitlines()
    if line.strip()
]


def test_the_set_is_large_enough_to_compare_retrievers() -> None:
    assert len(QUESTIONS) >= 100
    assert len({q["id"] for q in QUESTIONS}) == len(QUESTIONS)


@pytest.mark.parametrize("question", QUESTIONS, ids=[q["id"] for q in QUESTIONS])
def test_each_gold_passage_is_quoted_from_its_source(question: dict) -> None:
    passage = passage_text(question["gold_passage"])
    assert len(passage) >= 12, "a quote specific enough to point at one place"
    assert len(passage.split()) <= 30, "a quote fits whole inside one 30-word chunk overlap"
    docs = [passage_text((ROOT / source).read_text()) for source in question["gold_sources"]]
    assert any(passage in doc for doc in docs), (
        f"{question['id']}: {question['gold_passage']!r} is no longer in {question['gold_sources']}"
    )


def test_passage_hit_counts_only_the_first_k_chunks() -> None:
    chunks = ["nothing here", "the `lease` TTL is **10 s**, renewed", "other"]
    assert passage_hit_at_k(chunks, "lease TTL is 10 s", 2) == 1.0
    assert passage_hit_at_k(chunks, "lease TTL is 10 s", 1) == 0.0
    assert passage_hit_at_k(chunks, "TTL is 11 s", 3) == 0.0
    with pytest.raises(ValueError, match="positive"):
        passage_hit_at_k(chunks, "x y z", 0)


def test_the_evaluator_stores_chunk_recall_under_its_k() -> None:
    record = {
        "query": "q",
        "gold_passage": "renewed every TTL/3",
        "results": [{"text": "a"}, {"text": "b"}, {"text": "renewed every TTL/3 by"}],
    }
    assert Evaluator({"k": 3}).execute(dict(record))["metrics"]["passage_recall_at_3"] == 1.0
    assert Evaluator({"k": 2}).execute(dict(record))["metrics"]["passage_recall_at_2"] == 0.0
