"""The running batch's KV cache and attention mask, left-padded so rows of any length decode together.

Rows join (after their own prefill) by padding the shorter cache on the left, and leave by
selecting the remaining rows; columns that became padding for every row are trimmed away.
Position ids come from the mask, so a row's positions are unaffected by the padding around it.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache


class KVBatch:
    def __init__(self, cache: DynamicCache, mask: torch.Tensor) -> None:
        self.cache = cache
        self.mask = mask  # [rows, columns], 1 = real token, 0 = left padding

    @property
    def rows(self) -> int:
        return int(self.mask.shape[0])

    def extend_mask(self) -> torch.Tensor:
        """The mask for a decode step that appends one real token to every row."""
        ones = torch.ones((self.rows, 1), dtype=self.mask.dtype, device=self.mask.device)
        self.mask = torch.cat([self.mask, ones], dim=1)
        return self.mask

    def keep_rows(self, keep: list[int]) -> None:
        index = torch.tensor(keep, device=self.mask.device)
        for layer in _layers(self.cache):
            if layer.keys is not None and layer.keys.numel():
                layer.keys = layer.keys.index_select(0, index)
                layer.values = layer.values.index_select(0, index)
        self.mask = self.mask.index_select(0, index)
        self._trim_left()

    def append(self, other: KVBatch) -> None:
        """Add other's rows after ours (our rows keep their indices)."""
        width = max(self.mask.shape[1], other.mask.shape[1])
        a_cache, a_mask = _pad_left(self.cache, self.mask, width)
        b_cache, b_mask = _pad_left(other.cache, other.mask, width)
        for la, lb in zip(_layers(a_cache), _layers(b_cache), strict=True):
            la.keys = torch.cat([la.keys, lb.keys], dim=0)
            la.values = torch.cat([la.values, lb.values], dim=0)
        self.cache = a_cache
        self.mask = torch.cat([a_mask, b_mask], dim=0)

    def _trim_left(self) -> None:
        used = self.mask.any(dim=0).nonzero()
        if used.numel() == 0:
            return
        first = int(used[0])
        if first == 0:
            return
        for layer in _layers(self.cache):
            layer.keys = layer.keys[:, :, first:, :]
            layer.values = layer.values[:, :, first:, :]
        self.mask = self.mask[:, first:]


def _pad_left(
    cache: DynamicCache, mask: torch.Tensor, width: int
) -> tuple[DynamicCache, torch.Tensor]:
    extra = width - mask.shape[1]
    if extra == 0:
        return cache, mask
    for layer in _layers(cache):
        layer.keys = torch.nn.functional.pad(layer.keys, (0, 0, extra, 0))
        layer.values = torch.nn.functional.pad(layer.values, (0, 0, extra, 0))
    mask = torch.nn.functional.pad(mask, (extra, 0))
    return cache, mask


def positions_for_prefill(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(dim=-1) - 1).clamp(min=0)


def positions_for_decode(mask: torch.Tensor) -> torch.Tensor:
    """Position of the newest column for each row (mask already extended by one)."""
    return mask.sum(dim=-1, keepdim=True) - 1


def _layers(cache: DynamicCache) -> list[Any]:
    # DynamicCache of a decoder-only attention model: every layer holds .keys / .values tensors.
    return list(cache.layers)
