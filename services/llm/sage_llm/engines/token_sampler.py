"""Batched next-token selection: one call picks a token for every row of a decode step.

Each row carries its own sampling parameters; rows are handled together where the maths allows
(temperature, top-k, top-p as tensor ops) and apart only where each needs its own RNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sage_llm.sampling import SamplingParams


@dataclass
class RowSampling:
    params: SamplingParams
    generator: torch.Generator | None  # set when the request has a seed
    token_counts: torch.Tensor | None  # per-vocab counts of generated tokens, only with penalties


def new_row_sampling(params: SamplingParams, vocab_size: int, device: str) -> RowSampling:
    generator = None
    if params.seed is not None:
        generator = torch.Generator(device=device)
        generator.manual_seed(params.seed)
    counts = torch.zeros(vocab_size, device=device) if params.uses_penalties else None
    return RowSampling(params, generator, counts)


def apply_penalties(logits: torch.Tensor, row: RowSampling) -> torch.Tensor:
    counts = row.token_counts
    if counts is None:
        return logits
    p = row.params
    seen = counts > 0
    if p.repetition_penalty != 1.0:
        penalised = torch.where(
            logits > 0, logits / p.repetition_penalty, logits * p.repetition_penalty
        )
        logits = torch.where(seen, penalised, logits)
    if p.presence_penalty != 0.0 or p.frequency_penalty != 0.0:
        logits = logits - p.presence_penalty * seen.float() - p.frequency_penalty * counts
    return logits


def select_tokens(logits: torch.Tensor, rows: Sequence[RowSampling]) -> list[int]:
    """``logits`` is [rows, vocab] for the last position of each row."""
    logits = logits.float()
    if any(r.token_counts is not None for r in rows):
        logits = torch.stack([apply_penalties(logits[i], r) for i, r in enumerate(rows)])
    greedy = [r.params.greedy for r in rows]
    chosen = logits.argmax(dim=-1)
    if all(greedy):
        return chosen.tolist()

    sample_idx = [i for i, g in enumerate(greedy) if not g]
    sub = logits[sample_idx]
    temps = torch.tensor([rows[i].params.temperature for i in sample_idx], device=sub.device)
    sub = sub / temps[:, None]
    top_ks = [rows[i].params.top_k for i in sample_idx]
    top_ps = [rows[i].params.top_p for i in sample_idx]
    vocab = sub.shape[-1]
    if any(k > 0 for k in top_ks) or any(p < 1.0 for p in top_ps):
        sorted_logits, order = sub.sort(dim=-1, descending=True)
        ranks = torch.arange(vocab, device=sub.device)[None, :]
        ks = torch.tensor([k if k > 0 else vocab for k in top_ks], device=sub.device)
        sorted_logits = sorted_logits.masked_fill(ranks >= ks[:, None], float("-inf"))
        probs = sorted_logits.softmax(dim=-1)
        ps = torch.tensor(top_ps, device=sub.device)
        # drop a token when the mass before it already reaches top_p (the first always stays)
        before = probs.cumsum(dim=-1) - probs
        probs = probs.masked_fill(before >= ps[:, None], 0.0)
    else:
        order = None
        probs = sub.softmax(dim=-1)

    for j, i in enumerate(sample_idx):
        pick = torch.multinomial(probs[j], 1, generator=rows[i].generator)
        token = order[j, pick] if order is not None else pick
        chosen[i] = token.item()
    return chosen.tolist()


def record_token(row: RowSampling, token: int) -> None:
    if row.token_counts is not None:
        row.token_counts[token] += 1
