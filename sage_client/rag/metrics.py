"""Answer and retrieval metrics as plain functions (the evaluators apply them to records).

Definitions:
- ``f1`` / ``exact_match``: SQuAD's, on normalised tokens (lower case, no punctuation or
  articles); with several references the best one counts.
- ``recall_at_k``: the share of gold sources found among the first k retrieved sources.
- ``passage_hit_at_k``: whether one of the first k retrieved chunks contains the gold passage
  (chunk-level recall; the gold passage is a verbatim quote of the answering text).
- ``rouge_l``: F-measure of the longest common token subsequence (beta = 1).
- ``bleu``: BLEU-4 of one sentence, geometric mean of modified n-gram precisions times the
  brevity penalty; n > 1 precisions get add-one smoothing (Lin and Och, 2004) so a short answer
  without a 4-gram match still scores above zero.
- ``context_recall``: the share of reference-answer tokens that occur in the retrieved context.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from sage_client.rag.text import answer_tokens, normalize_answer


def _best(
    prediction: str, references: str | Sequence[str], metric: Callable[[str, str], float]
) -> float:
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError("at least one reference answer is needed")
    return max(metric(prediction, r) for r in refs)


def _f1(prediction: str, reference: str) -> float:
    pred, ref = answer_tokens(prediction), answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, references: str | Sequence[str]) -> float:
    return _best(prediction, references, _f1)


def exact_match(prediction: str, references: str | Sequence[str]) -> float:
    return _best(
        prediction, references, lambda p, r: float(normalize_answer(p) == normalize_answer(r))
    )


def recall_at_k(retrieved: Sequence[str], gold: Iterable[str], k: int) -> float:
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    wanted = set(gold)
    if not wanted:
        raise ValueError("recall@k needs at least one gold source")
    return len(wanted & set(retrieved[:k])) / len(wanted)


def passage_text(text: str) -> str:
    """Text as passages are compared: markdown emphasis and code marks dropped, whitespace
    collapsed, lower case."""
    return " ".join(text.replace("`", "").replace("*", "").split()).lower()


def passage_hit_at_k(contexts: Sequence[str], passage: str, k: int) -> float:
    """1.0 when one of the first ``k`` retrieved chunks contains the gold ``passage`` (a short
    verbatim quote of the source that answers the question), else 0.0: recall at chunk level."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    wanted = passage_text(passage)
    if not wanted:
        raise ValueError("passage_hit_at_k needs a non-empty gold passage")
    return float(any(wanted in passage_text(c) for c in contexts[:k]))


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def _rouge_l(prediction: str, reference: str) -> float:
    pred, ref = answer_tokens(prediction), answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    lcs = _lcs(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, references: str | Sequence[str]) -> float:
    return _best(prediction, references, _rouge_l)


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _bleu(prediction: str, reference: str, max_n: int = 4) -> float:
    pred, ref = answer_tokens(prediction), answer_tokens(reference)
    if not pred or not ref:
        return 0.0
    log_sum = 0.0
    for n in range(1, max_n + 1):
        pred_ngrams = _ngrams(pred, n)
        matches = sum((pred_ngrams & _ngrams(ref, n)).values())
        total = sum(pred_ngrams.values())
        if n == 1:
            if matches == 0:
                return 0.0
            log_sum += math.log(matches / total)
        else:
            log_sum += math.log((matches + 1) / (total + 1))
    brevity = 1.0 if len(pred) > len(ref) else math.exp(1 - len(ref) / len(pred))
    return brevity * math.exp(log_sum / max_n)


def bleu(prediction: str, references: str | Sequence[str]) -> float:
    return _best(prediction, references, _bleu)


def context_recall(contexts: Sequence[str], references: str | Sequence[str]) -> float:
    context_tokens = set(answer_tokens(" ".join(contexts)))

    def covered(_: str, reference: str) -> float:
        ref = answer_tokens(reference)
        if not ref:
            return 0.0
        return sum(t in context_tokens for t in ref) / len(ref)

    return _best("", references, covered)
