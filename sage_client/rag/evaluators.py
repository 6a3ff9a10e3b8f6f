"""Evaluators: MapFunctions that score a record into ``record["metrics"]``, and the table that
summarises a run.

Reference answers come from ``references`` (a list) or ``reference``; gold sources from
``gold_sources`` (a list) or ``source``. A metric whose inputs a record lacks is left out of that
record rather than counted as zero, so the table's means are over the records that had them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sage_client.dataflow.api.functions import MapFunction, SinkFunction
from sage_client.rag import metrics as m
from sage_client.rag.records import Record, as_record


def references_of(record: Mapping[str, Any]) -> list[str]:
    refs = record.get("references")
    if refs is None and record.get("reference") is not None:
        refs = [record["reference"]]
    return [str(r) for r in (refs or [])]


def gold_sources_of(record: Mapping[str, Any]) -> list[str]:
    gold = record.get("gold_sources")
    if gold is None and record.get("source") is not None:
        gold = [record["source"]]
    return [str(g) for g in (gold or [])]


def _retrieved_sources(record: Mapping[str, Any]) -> list[str]:
    return [str(r.get("source", "")) for r in record.get("results") or []]


def _answer_metric(
    fn: Callable[[str, Sequence[str]], float],
) -> Callable[[Mapping[str, Any], int], float | None]:
    def measure(record: Mapping[str, Any], _k: int) -> float | None:
        refs = references_of(record)
        if not refs or record.get("answer") is None:
            return None
        return fn(str(record["answer"]), refs)

    return measure


def _recall(record: Mapping[str, Any], k: int) -> float | None:
    gold = gold_sources_of(record)
    if not gold or "results" not in record:
        return None
    return m.recall_at_k(_retrieved_sources(record), gold, k)


def _passage_recall(record: Mapping[str, Any], k: int) -> float | None:
    passage = record.get("gold_passage")
    if not passage or "results" not in record:
        return None
    return m.passage_hit_at_k([str(r.get("text", "")) for r in record["results"]], passage, k)


def _context_recall(record: Mapping[str, Any], _k: int) -> float | None:
    refs = references_of(record)
    if not refs or "results" not in record:
        return None
    return m.context_recall([str(r.get("text", "")) for r in record["results"]], refs)


def _latency(record: Mapping[str, Any], _k: int) -> float | None:
    timings = record.get("timings")
    return float(sum(timings.values())) if timings else None


def _tokens(record: Mapping[str, Any], _k: int) -> float | None:
    usage = record.get("usage")
    if not usage:
        return None
    return float(usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))


METRICS: dict[str, Callable[[Mapping[str, Any], int], float | None]] = {
    "f1": _answer_metric(m.f1_score),
    "exact_match": _answer_metric(m.exact_match),
    "rouge_l": _answer_metric(m.rouge_l),
    "bleu": _answer_metric(m.bleu),
    "recall_at_k": _recall,
    "passage_recall_at_k": _passage_recall,
    "context_recall": _context_recall,
    "latency_s": _latency,
    "tokens": _tokens,
}


class Evaluator(MapFunction):
    """``Evaluator({"metrics": ["f1", "recall_at_k", ...], "k": 5})`` (default: all of METRICS).
    Recall is stored as ``recall_at_<k>``, chunk-level recall as ``passage_recall_at_<k>``
    (records with a ``gold_passage``)."""

    metrics: tuple[str, ...] = tuple(METRICS)

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = {**(config or {}), **kwargs}
        names = tuple(cfg.get("metrics", self.metrics))
        unknown = set(names) - set(METRICS)
        if unknown:
            raise ValueError(f"unknown metric(s) {sorted(unknown)}; known: {sorted(METRICS)}")
        self.names = names
        self.k = int(cfg.get("k", 5))
        if self.k <= 0:
            raise ValueError(f"k must be positive, got {self.k}")

    def execute(self, data: Any) -> Record:
        record = as_record(data)
        scores = dict(record.get("metrics") or {})
        for name in self.names:
            value = METRICS[name](record, self.k)
            if value is not None:
                scores[name.replace("_at_k", f"_at_{self.k}")] = value
        record["metrics"] = scores
        return record


def _single(name: str) -> type[Evaluator]:
    cls = type(
        f"{''.join(p.title() for p in name.split('_'))}Evaluator",
        (Evaluator,),
        {"metrics": (name,)},
    )
    cls.__doc__ = f"Adds ``{name}`` to ``record['metrics']`` (see sage_client.rag.metrics)."
    return cls


F1Evaluator = _single("f1")
ExactMatchEvaluator = _single("exact_match")
RecallAtKEvaluator = _single("recall_at_k")
RougeLEvaluator = _single("rouge_l")
BleuEvaluator = _single("bleu")
ContextRecallEvaluator = _single("context_recall")
PassageRecallEvaluator = _single("passage_recall_at_k")
LatencyEvaluator = _single("latency_s")
TokenCountEvaluator = _single("tokens")


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per metric: ``mean``, ``min``, ``max`` and ``n`` (records that had it)."""
    columns: dict[str, list[float]] = {}
    for record in records:
        for name, value in (record.get("metrics") or {}).items():
            columns.setdefault(name, []).append(float(value))
    return {
        name: {"mean": sum(vs) / len(vs), "min": min(vs), "max": max(vs), "n": float(len(vs))}
        for name, vs in columns.items()
    }


def format_table(summary: Mapping[str, Mapping[str, float]]) -> str:
    """The summary as an aligned text table, one metric a row."""
    header = f"{'metric':<16} {'mean':>9} {'min':>9} {'max':>9} {'n':>5}"
    rows = [header, "-" * len(header)]
    for name in sorted(summary):
        s = summary[name]
        rows.append(
            f"{name:<16} {s['mean']:>9.4f} {s['min']:>9.4f} {s['max']:>9.4f} {int(s['n']):>5}"
        )
    return "\n".join(rows)


class EvaluationSummary(SinkFunction):
    """Collects scored records; at the end of the run prints the table (``print_table``, default
    True) and hands the summary to ``on_summary`` if given."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = {**(config or {}), **kwargs}
        self.print_table = bool(cfg.get("print_table", True))
        self.on_summary: Callable[[dict[str, dict[str, float]]], None] | None = cfg.get(
            "on_summary"
        )
        self.records: list[Mapping[str, Any]] = []

    def execute(self, data: Mapping[str, Any]) -> None:
        self.records.append({"metrics": dict(data.get("metrics") or {})})

    def close(self) -> None:
        summary = summarize(self.records)
        if self.print_table:
            print(format_table(summary), flush=True)
        if self.on_summary is not None:
            self.on_summary(summary)
