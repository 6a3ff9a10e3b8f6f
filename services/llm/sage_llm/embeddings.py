"""Sentence embeddings with all-MiniLM-L6-v2 (384 dims), mean-pooled and L2-normalized.

Written on transformers directly: texts are tokenized once, sorted by length so each batch pads
little, and run under inference mode — the same maths as sentence-transformers, less overhead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sage_llm.errors import InvalidParameterError
from sage_llm.model_files import default_embedding_model_path

log = logging.getLogger(__name__)

MAX_TEXTS_PER_CALL = 4096


class SentenceEmbedder:
    def __init__(
        self,
        model_path: str | Path | None = None,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int = 256,
        name: str = "all-MiniLM-L6-v2",
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = Path(model_path) if model_path else default_embedding_model_path()
        self.name = name
        self._device = device
        self._batch_size = batch_size
        self._max_length = max_length
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        self._model = AutoModel.from_pretrained(path).to(device).eval()
        self.dimension = int(self._model.config.hidden_size)
        self._lock = threading.Lock()  # one forward at a time; torch already uses every core
        log.info("loaded embedding model %s (%d dims) on %s", path, self.dimension, device)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array [len(texts), dimension] of unit-length vectors, in input order."""
        return self.embed_counted(texts)[0]

    def embed_counted(self, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        """The vectors and the number of tokens the model read."""
        if not texts:
            raise InvalidParameterError("texts", "must hold at least one text")
        if len(texts) > MAX_TEXTS_PER_CALL:
            raise InvalidParameterError(
                "texts", f"at most {MAX_TEXTS_PER_CALL} texts per call, got {len(texts)}"
            )
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InvalidParameterError(
                    f"texts[{i}]", f"must be a string, got {type(t).__name__}"
                )
        with self._lock:
            encoded = self._tokenizer(
                list(texts), truncation=True, max_length=self._max_length, add_special_tokens=True
            )["input_ids"]
            order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
            out = np.empty((len(texts), self.dimension), dtype=np.float32)
            with torch.inference_mode():
                for start in range(0, len(order), self._batch_size):
                    chunk = order[start : start + self._batch_size]
                    out[chunk] = self._embed_ids([encoded[i] for i in chunk])
        return out, sum(len(x) for x in encoded)

    def _embed_ids(self, ids: list[list[int]]) -> np.ndarray:
        width = max(len(x) for x in ids)
        pad = self._tokenizer.pad_token_id or 0
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, x in enumerate(ids):
            input_ids[row, : len(x)] = torch.tensor(x)
            mask[row, : len(x)] = 1
        input_ids, mask = input_ids.to(self._device), mask.to(self._device)
        hidden = self._model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.float().cpu().numpy()
