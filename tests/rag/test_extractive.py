"""AnswerExtractor: the answering span of retrieved chunks, on text shaped like docs/."""

from __future__ import annotations

import pytest

from sage_client.rag.extractive import AnswerExtractor, answer_type, rank_candidates, units
from sage_client.rag.pipelines import answer_questions

CONFIG_TABLE = """## Shared keys (every service)

| key | default | meaning |
|---|---|---|
| `registration_ttl_s` | 10 | lease TTL |
| `grace_period_s` | 10 | drain time on SIGTERM |
| `max_message_bytes` | 64 MiB | largest gRPC message |
"""
ERRORS = """Every error is a gRPC status with a message a person can act on.

| situation | status |
|---|---|
| missing key / resource | NOT_FOUND |
| compare-and-set mismatch | FAILED_PRECONDITION |
| missing or wrong bearer token | UNAUTHENTICATED |
"""
PROSE = (
    "The mesh is described once in `deploy/sage_deploy/topology.yaml`. Each service reads "
    "one typed configuration: an optional YAML file (`--config FILE` or `SAGE_CONFIG`)."
)


def chunk(text: str, source: str = "docs/x.md") -> dict[str, object]:
    return {"text": text, "source": source}


def test_units_are_table_cells_with_their_row_and_header_and_clauses() -> None:
    cells = units(CONFIG_TABLE)
    assert "key" not in [span for _, span, _ in cells]  # the header names columns, no cell
    assert [span for _, span, _ in cells].count("10") == 2
    row_context = next(ctx for ctx, span, _ in cells if span == "64 MiB")
    assert "max_message_bytes" in row_context and row_context.endswith("| default")
    prose = units(PROSE)
    assert "deploy/sage_deploy/topology.yaml" in [s for _, s, code in prose if code]
    assert all(not span.startswith("|") for _, span, _ in prose)


@pytest.mark.parametrize(
    ("question", "shape"),
    [
        ("Which environment variable names the YAML configuration file?", "env"),
        ("Which gRPC status does a call get when the token is wrong?", "caps"),
        ("With which exit code does a service stop?", "num"),
        ("Which command stops the mesh?", "cmd"),
        ("Which file describes the topology?", "path"),
        ("Why does the job manager keep a standby worker?", None),
    ],
)
def test_answer_type(question: str, shape: str | None) -> None:
    assert answer_type(question) == shape


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What is the default gRPC message size limit of a service?", "64 MiB"),
        ("Which status does the SDK get on a compare-and-set mismatch?", "FAILED_PRECONDITION"),
        ("Which gRPC status answers a missing or wrong bearer token?", "UNAUTHENTICATED"),
        ("Which file describes the topology of the mesh?", "deploy/sage_deploy/topology.yaml"),
        ("Which environment variable names the YAML configuration file?", "SAGE_CONFIG"),
    ],
)
def test_the_best_candidate_is_the_answering_span(question: str, answer: str) -> None:
    results = [chunk(PROSE), chunk(ERRORS), chunk(CONFIG_TABLE)]
    assert rank_candidates(question, results, k=3)[0].text == answer


def test_only_the_first_k_chunks_are_read() -> None:
    results = [chunk(PROSE), chunk(ERRORS)]
    question = "Which status does the SDK get on a compare-and-set mismatch?"
    assert "FAILED_PRECONDITION" not in [c.text for c in rank_candidates(question, results, k=1)]


def test_the_model_vote_decides_between_close_candidates() -> None:
    results = [chunk(ERRORS)]
    question = "Which gRPC status is it?"
    plain = rank_candidates(question, results, k=1)
    voted = rank_candidates(
        question, results, k=1, model_answer="UNAUTHENTICATED [1]", model_weight=5.0
    )
    assert plain[0].text != "UNAUTHENTICATED"
    assert voted[0].text == "UNAUTHENTICATED"


def test_the_extractor_keeps_the_models_text_and_names_the_source() -> None:
    record = {
        "query": "What is the default gRPC message size limit of a service?",
        "answer": "The limit is big.",
        "results": [chunk(ERRORS, "docs/mesh.md"), chunk(CONFIG_TABLE, "docs/configuration.md")],
    }
    out = AnswerExtractor({"k": 2}).execute(record)
    assert out["answer"] == "64 MiB"
    assert out["generated"] == "The limit is big."
    assert out["answer_source"] == "[2] docs/configuration.md"
    assert out["candidates"][0] == "64 MiB" and len(out["candidates"]) <= 3


def test_a_record_without_results_keeps_the_models_answer() -> None:
    out = AnswerExtractor().execute({"query": "Why?", "answer": "Because."})
    assert out["answer"] == "Because." and "generated" not in out


@pytest.mark.parametrize("config", [{"k": 0}, {"model_weight": -1}])
def test_bad_settings_are_refused(config: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(config))):
        AnswerExtractor(config)


def test_answer_questions_extracts_after_the_generator_and_scores_the_span() -> None:
    question = {
        "query": "What is the default gRPC message size limit of a service?",
        "references": ["64 MiB"],
        "results": [chunk(CONFIG_TABLE)],
    }
    (record,) = answer_questions(
        [question],
        retriever=None,
        promptor_config={"use_context": True},
        generator_config={"backend_type": "mock", "max_tokens": 4},
        extract={"k": 1},
        k=1,
    )
    assert record["answer"] == "64 MiB" and record["metrics"]["f1"] == 1.0
    assert record["generated"] and record["generated"] != record["answer"]
