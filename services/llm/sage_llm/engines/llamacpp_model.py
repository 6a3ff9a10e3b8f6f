"""A GGUF model and its llama.cpp context, through llama-cpp-python's low-level ctypes bindings.

Only what the llamacpp engine needs: load the weights as they are (quantized, no conversion),
one context whose KV cache holds ``n_seq_max`` sequences, each in its own stream of cells, the
vocabulary (tokenize, pieces, end-of-generation tokens), the GGUF metadata, and a reusable
``llama_batch`` filled token by token. Nothing here is thread-safe: the engine's decode thread
owns the context; the vocabulary calls are pure and may run on any thread.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sage_llm.errors import EngineUnavailableError

log = logging.getLogger(__name__)

_backend_ready = False
_log_callback: Any = None  # kept alive: llama.cpp holds the C pointer


def llamacpp_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def _lib() -> Any:
    if not llamacpp_available():
        raise EngineUnavailableError(
            "the llamacpp engine needs llama-cpp-python; install it with "
            "bash scripts/install-llamacpp.sh (a portable source build, ~5 min on 2 cores)"
        )
    import llama_cpp

    global _backend_ready, _log_callback
    if not _backend_ready:
        # llama.cpp writes every load detail to stderr; route it to our logger at DEBUG
        # (warnings and errors stay visible).
        @llama_cpp.llama_log_callback
        def forward(level: int, text: bytes, _user: Any) -> None:
            message = text.decode("utf-8", "replace").rstrip()
            if message:
                # GGML_LOG_LEVEL_WARN = 3, GGML_LOG_LEVEL_ERROR = 4
                log.log(logging.WARNING if level in (3, 4) else logging.DEBUG, "%s", message)

        _log_callback = forward
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        _backend_ready = True
    return llama_cpp


@dataclass(frozen=True)
class ContextShape:
    n_ctx: int  # KV cells of EACH sequence; 0 = the model's trained context (capped)
    n_batch: int  # most tokens in one llama_decode
    n_seq_max: int  # sequences decoding at once, each with its own seq_id
    n_threads: int
    embeddings: bool = False


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class LlamaModel:
    """One loaded GGUF file and one context over it."""

    def __init__(self, path: Path, shape: ContextShape, default_ctx: int = 2048) -> None:
        lib = _lib()
        self.lib = lib
        self.path = path
        mparams = lib.llama_model_default_params()
        mparams.use_mmap = True
        model = lib.llama_model_load_from_file(str(path).encode(), mparams)
        if not model:
            raise EngineUnavailableError(f"llama.cpp could not load {path} (not a valid GGUF?)")
        self.model = model
        self.vocab = lib.llama_model_get_vocab(model)
        self.n_vocab = int(lib.llama_vocab_n_tokens(self.vocab))
        self.n_ctx_train = int(lib.llama_model_n_ctx_train(model))
        self.n_embd = int(lib.llama_model_n_embd(model))
        cparams = lib.llama_context_default_params()
        per_sequence = shape.n_ctx or min(self.n_ctx_train, default_ctx)
        cparams.n_ctx = per_sequence * shape.n_seq_max
        cparams.n_batch = shape.n_batch
        cparams.n_ubatch = shape.n_batch
        cparams.n_seq_max = shape.n_seq_max
        cparams.n_threads = shape.n_threads
        cparams.n_threads_batch = shape.n_threads
        # One stream of cells per sequence, not one unified cache: with kv_unified, once freed
        # cells left holes, a request's logits depended on where its cells landed (up to 0.6
        # off a fresh context, f16 or f32 cache alike), so the same seeded request sampled
        # differently alone and in a batch. Per-sequence streams keep every answer reproducible.
        cparams.kv_unified = False
        cparams.embeddings = shape.embeddings
        cparams.no_perf = True
        # Flash attention on: with it off (or "auto"), steps of several sequences were up to
        # 5x slower here, now and then.
        cparams.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_ENABLED
        ctx = lib.llama_init_from_model(model, cparams)
        if not ctx:
            lib.llama_model_free(model)
            raise EngineUnavailableError(
                f"llama.cpp could not create a context for {path} (n_ctx={shape.n_ctx})"
            )
        self.ctx = ctx
        self.memory = lib.llama_get_memory(ctx)
        self.shape = shape
        self.n_ctx = int(lib.llama_n_ctx_seq(ctx))  # what one sequence may hold
        self._batch = lib.llama_batch_init(shape.n_batch, 0, 1)
        self._closed = False

    # ---- metadata and vocabulary (pure, any thread) -------------------------------------------

    def metadata(self, key: str) -> str | None:
        size = 1 << 16
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self.lib.llama_model_meta_val_str(self.model, key.encode(), buf, size)
            if n < 0:
                return None
            if n < size:
                return buf.value.decode("utf-8", "replace")
            size = n + 1

    def architecture(self) -> str:
        return self.metadata("general.architecture") or ""

    def is_embedding_model(self) -> bool:
        """An encoder (BERT-like) GGUF, or one whose metadata names a pooling type."""
        if not self.lib.llama_model_has_decoder(self.model):
            return True
        return self.metadata(f"{self.architecture()}.pooling_type") is not None

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        tokens = (self.lib.llama_token * capacity)()
        n = self.lib.llama_tokenize(
            self.vocab, data, len(data), tokens, capacity, add_special, True
        )
        if n < 0:
            capacity = -n
            tokens = (self.lib.llama_token * capacity)()
            n = self.lib.llama_tokenize(
                self.vocab, data, len(data), tokens, capacity, add_special, True
            )
        return list(tokens[:n])

    def detokenize(self, tokens: Sequence[int]) -> str:
        """Text of the tokens, special tokens left out (as ``skip_special_tokens``)."""
        ids = (self.lib.llama_token * len(tokens))(*tokens)
        size = max(64, 8 * len(tokens))
        buf = ctypes.create_string_buffer(size)
        n = self.lib.llama_detokenize(self.vocab, ids, len(tokens), buf, size, False, False)
        if n < 0:
            size = -n
            buf = ctypes.create_string_buffer(size)
            n = self.lib.llama_detokenize(self.vocab, ids, len(tokens), buf, size, False, False)
        return buf.raw[:n].decode("utf-8", "replace")

    def piece(self, token: int) -> bytes:
        """The bytes of one token; special tokens (EOS, <|im_end|>) render as nothing."""
        buf = ctypes.create_string_buffer(64)
        n = self.lib.llama_token_to_piece(self.vocab, token, buf, 64, 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self.lib.llama_token_to_piece(self.vocab, token, buf, -n, 0, False)
        return buf.raw[:n]

    def is_eog(self, token: int) -> bool:
        return bool(self.lib.llama_vocab_is_eog(self.vocab, token))

    def special_token_text(self, which: str) -> str:
        """``bos`` or ``eos`` as text, for chat templates that mention them."""
        fn = self.lib.llama_vocab_bos if which == "bos" else self.lib.llama_vocab_eos
        token = int(fn(self.vocab))
        if token < 0:
            return ""
        buf = ctypes.create_string_buffer(64)
        n = self.lib.llama_token_to_piece(self.vocab, token, buf, 64, 0, True)
        return buf.raw[: max(n, 0)].decode("utf-8", "replace")

    # ---- the context (decode thread only) -----------------------------------------------------

    def clear_batch(self) -> None:
        self._batch.n_tokens = 0

    def add(self, token: int, pos: int, seq_id: int, want_logits: bool) -> int:
        """Append one token to the batch; returns its index (for its logits)."""
        b = self._batch
        i = b.n_tokens
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq_id
        b.logits[i] = want_logits
        b.n_tokens = i + 1
        return i

    @property
    def batch_size(self) -> int:
        return int(self._batch.n_tokens)

    def decode(self) -> int:
        """llama_decode on the batch: 0 ok, 1 no KV room, other values an error."""
        return int(self.lib.llama_decode(self.ctx, self._batch))

    def run_embedding_batch(self) -> int:
        """An encoder-only model (BERT) runs llama_encode; a decoder with pooling llama_decode."""
        if self.lib.llama_model_has_decoder(self.model):
            return self.decode()
        return int(self.lib.llama_encode(self.ctx, self._batch))

    def logits_rows(self, indices: list[int]) -> np.ndarray:
        """[len(indices), n_vocab] float32 copy of the logits of those batch positions."""
        out = np.empty((len(indices), self.n_vocab), dtype=np.float32)
        for row, i in enumerate(indices):
            ptr = self.lib.llama_get_logits_ith(self.ctx, i)
            out[row] = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))
        return out

    def sequence_embedding(self, seq_id: int) -> np.ndarray:
        ptr = self.lib.llama_get_embeddings_seq(self.ctx, seq_id)
        if not ptr:
            raise RuntimeError("llama.cpp returned no pooled embedding for the sequence")
        return np.ctypeslib.as_array(ptr, shape=(self.n_embd,)).copy()

    def forget(self, seq_id: int) -> None:
        """Free every KV cell of the sequence (seq_id < 0: of all sequences)."""
        if self.memory:  # encoder-only models keep no KV cache
            self.lib.llama_memory_seq_rm(self.memory, seq_id, -1, -1)

    def cells_used(self, seq_id: int) -> int:
        """Positions the sequence holds in the KV cache (0 when its slot is free)."""
        if not self.memory:
            return 0
        return int(self.lib.llama_memory_seq_pos_max(self.memory, seq_id)) + 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.lib.llama_batch_free(self._batch)
        self.lib.llama_free(self.ctx)
        self.lib.llama_model_free(self.model)
