"""The running batch's cache bookkeeping, on small hand-made tensors."""

import torch
from transformers import DynamicCache

from sage_llm.engines.kv_batch import KVBatch, positions_for_decode, positions_for_prefill


def batch_of(lengths: list[int], width: int, layers: int = 2) -> KVBatch:
    """Rows whose keys hold their row id and position, left-padded with zeros to ``width``."""
    cache = DynamicCache()
    mask = torch.zeros((len(lengths), width), dtype=torch.long)
    keys = torch.zeros((len(lengths), 1, width, 2))
    for row, n in enumerate(lengths):
        mask[row, width - n :] = 1
        keys[row, 0, width - n :, 0] = row + 1
        keys[row, 0, width - n :, 1] = torch.arange(n, dtype=torch.float)
    for layer in range(layers):
        cache.update(keys.clone(), keys.clone(), layer)
    return KVBatch(cache, mask)


def test_positions_ignore_left_padding() -> None:
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    assert positions_for_prefill(mask).tolist() == [[0, 0, 0, 1], [0, 1, 2, 3]]
    assert positions_for_decode(mask).tolist() == [[1], [3]]


def test_append_pads_the_shorter_batch_on_the_left() -> None:
    a = batch_of([3], width=3)
    b = batch_of([2, 5], width=5)
    a.append(b)
    assert a.mask.tolist() == [[0, 0, 1, 1, 1], [0, 0, 0, 1, 1], [1, 1, 1, 1, 1]]
    keys = a.cache.layers[0].keys
    assert keys.shape == (3, 1, 5, 2)
    assert keys[0, 0, :, 0].tolist() == [0, 0, 1, 1, 1]  # row kept its values, now right-aligned
    assert keys[0, 0, 2:, 1].tolist() == [0, 1, 2]


def test_keep_rows_drops_the_others_and_trims_padding_columns() -> None:
    batch = batch_of([2, 6, 3], width=6)
    batch.keep_rows([0, 2])
    assert batch.mask.tolist() == [[0, 1, 1], [1, 1, 1]]  # 3 all-padding columns trimmed
    keys = batch.cache.layers[1].keys
    assert keys.shape == (2, 1, 3, 2)
    assert keys[:, 0, -1, 0].tolist() == [1, 3]  # original rows 0 and 2


def test_extend_mask_adds_one_real_column() -> None:
    batch = batch_of([1, 2], width=2)
    assert batch.extend_mask().tolist() == [[0, 1, 1], [1, 1, 1]]
