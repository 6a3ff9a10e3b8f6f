"""Next-token selection on hand-made logits."""

import torch

from sage_llm.engines.token_sampler import (
    apply_penalties,
    new_row_sampling,
    record_token,
    select_tokens,
)
from sage_llm.sampling import SamplingParams


def test_greedy_rows_take_the_argmax() -> None:
    logits = torch.tensor([[0.0, 3.0, 1.0], [5.0, 0.0, 1.0]])
    rows = [new_row_sampling(SamplingParams(temperature=0), 3, "cpu") for _ in range(2)]
    assert select_tokens(logits, rows) == [1, 0]


def test_top_k_one_samples_the_best_token_whatever_the_seed() -> None:
    logits = torch.tensor([[0.0, 3.0, 2.9, 1.0]])
    for seed in range(5):
        row = new_row_sampling(SamplingParams(temperature=1.5, top_k=1, seed=seed), 4, "cpu")
        assert select_tokens(logits, [row]) == [1]


def test_top_p_keeps_only_the_nucleus() -> None:
    logits = torch.tensor([[10.0, 9.0, -10.0, -10.0]])  # ~73% / 27% / ~0 / ~0
    picks = set()
    for seed in range(20):
        row = new_row_sampling(SamplingParams(temperature=1.0, top_p=0.5, seed=seed), 4, "cpu")
        picks.update(select_tokens(logits, [row]))
    assert picks == {0}


def test_same_seed_same_pick_in_a_mixed_batch() -> None:
    logits = torch.zeros((3, 50))

    def rows() -> list:
        return [
            new_row_sampling(SamplingParams(temperature=1.0, seed=11), 50, "cpu"),
            new_row_sampling(SamplingParams(temperature=0), 50, "cpu"),
            new_row_sampling(SamplingParams(temperature=1.0, seed=11), 50, "cpu"),
        ]

    first, second = select_tokens(logits, rows()), select_tokens(logits, rows())
    assert first == second
    assert first[0] == first[2]


def test_penalties_lower_tokens_already_generated() -> None:
    row = new_row_sampling(
        SamplingParams(repetition_penalty=2.0, presence_penalty=0.5, frequency_penalty=0.25),
        3,
        "cpu",
    )
    record_token(row, 0)
    record_token(row, 0)
    record_token(row, 2)
    out = apply_penalties(torch.tensor([4.0, 1.0, -1.0]), row)
    # token 0: 4/2 - 0.5 - 2*0.25 = 1.0; token 1 untouched; token 2: -1*2 - 0.5 - 0.25 = -2.75
    assert out.tolist() == [1.0, 1.0, -2.75]
