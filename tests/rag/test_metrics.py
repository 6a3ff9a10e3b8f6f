"""Metrics against values worked out by hand (the arithmetic is in each test's comment)."""

import math

import pytest

from sage_client.rag.metrics import (
    bleu,
    context_recall,
    exact_match,
    f1_score,
    recall_at_k,
    rouge_l,
)


def test_f1_counts_shared_tokens_after_normalisation() -> None:
    # pred tokens: cat sat on mat (article "the" dropped); ref: cat sat
    # common 2, precision 2/4, recall 2/2 -> F1 = 2*0.5*1/1.5 = 2/3
    assert f1_score("The cat sat on the mat.", "cat sat") == pytest.approx(2 / 3)


def test_f1_takes_the_best_reference() -> None:
    assert f1_score("port 2379", ["etcd", "2379"]) == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_f1_is_zero_without_overlap() -> None:
    assert f1_score("blue", "red") == 0.0


def test_exact_match_ignores_case_punctuation_and_articles() -> None:
    assert exact_match("The Envoy proxy!", "envoy proxy") == 1.0
    assert exact_match("Envoy proxy server", "envoy proxy") == 0.0


def test_recall_at_k_is_share_of_gold_in_top_k() -> None:
    retrieved = ["a.md", "b.md", "c.md", "d.md"]
    assert recall_at_k(retrieved, ["c.md", "z.md"], k=3) == 0.5
    assert recall_at_k(retrieved, ["d.md"], k=3) == 0.0
    assert recall_at_k(retrieved, ["d.md"], k=4) == 1.0


def test_recall_at_k_rejects_bad_k_and_empty_gold() -> None:
    with pytest.raises(ValueError, match="k must be positive"):
        recall_at_k(["a"], ["a"], k=0)
    with pytest.raises(ValueError, match="gold"):
        recall_at_k(["a"], [], k=1)


def test_rouge_l_uses_longest_common_subsequence() -> None:
    # pred: police killed gunman (3); ref: police kill gunman (3); LCS = police gunman = 2
    # P = R = 2/3 -> F = 2/3
    assert rouge_l("police killed the gunman", "the police kill the gunman") == pytest.approx(2 / 3)


def test_bleu_with_add_one_smoothing_above_unigrams() -> None:
    # pred: w x y z (4 tokens), ref: w x y q (4 tokens); brevity penalty 1
    # p1 = 3/4; p2 = (2+1)/(3+1) = 3/4; p3 = (1+1)/(2+1) = 2/3; p4 = (0+1)/(1+1) = 1/2
    expected = math.exp((math.log(3 / 4) + math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2)) / 4)
    assert bleu("w x y z", "w x y q") == pytest.approx(expected)


def test_bleu_brevity_penalty_for_short_answers() -> None:
    # pred: w x (2), ref: w x y z (4): p1 = 1, p2 = (1+1)/(1+1) = 1, p3 = (0+1)/(0+1) = 1,
    # p4 = 1 -> precision term 1; BP = exp(1 - 4/2) = e^-1
    assert bleu("w x", "w x y z") == pytest.approx(math.exp(-1))


def test_bleu_is_zero_without_a_shared_word() -> None:
    assert bleu("x y", "u v") == 0.0


def test_context_recall_is_share_of_reference_tokens_in_context() -> None:
    # reference tokens: etcd listens on 2379 (4); context has etcd, 2379 -> 2/4
    assert context_recall(["etcd client port is 2379", "unrelated"], "etcd listens on 2379") == 0.5
