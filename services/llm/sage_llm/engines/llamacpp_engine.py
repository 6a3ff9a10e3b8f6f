"""llama.cpp engine for GGUF models on CPU: continuous batching over one ``llama_batch`` per step.

The shape of llama.cpp's own server (``tools/server``): each running request holds a sequence
id (a slot) with its own stream of KV cells; every step ONE ``llama_decode`` carries the
next token of every decoding request plus chunks of the prompts of requests just admitted, so a
new request's prefill rides along with the others' decoding instead of waiting for them. The
logits of each sequence go through the project's sampler (``token_sampler``: temperature, top-k,
top-p, penalties, per-request seeds) and its stop-text buffer, exactly as in the transformers
engine. A request leaves on EOS, a stop sequence, max_tokens or its consumer going away; its KV
cells are freed at once (``llama_memory_seq_rm``) and its slot goes to the next waiting request.

One thread owns the llama.cpp context; the asyncio side only queues requests and reads deltas.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sage_llm.engines.base import (
    FINISH_LENGTH,
    FINISH_STOP,
    ChatMessage,
    Engine,
    GenerationRequest,
    ModelInfo,
    TokenDelta,
    Usage,
)
from sage_llm.engines.chat_template import plain_transcript, render_chat
from sage_llm.engines.llamacpp_model import ContextShape, LlamaModel, default_threads
from sage_llm.engines.stop_text import StopTextBuffer
from sage_llm.engines.thread_sink import ThreadSink
from sage_llm.engines.token_sampler import (
    RowSampling,
    new_row_sampling,
    record_token,
    select_tokens,
)
from sage_llm.errors import EngineUnavailableError, InvalidParameterError, QueueFullError
from sage_llm.model_files import model_name_for, resolve_model_path

log = logging.getLogger(__name__)

DEFAULT_MAX_CONTEXT = 2048  # KV cells per slot, allocated up front: 16 slots of SmolLM2 = 0.75 GB
MAX_SEQUENCES = 256  # llama.cpp's LLAMA_MAX_SEQ


@dataclass(frozen=True)
class LlamaCppStats:
    running: int
    waiting: int
    tokens_generated: int
    forward_passes: int  # llama_decode calls
    max_rows_in_pass: int  # most sequences carried by one llama_decode
    rows_in_passes: int  # sequences summed over every llama_decode
    free_slots: int
    kv_cells_used: int  # KV positions held by the running sequences, as llama.cpp reports them


@dataclass(eq=False)
class _Sequence:
    request_id: str
    prompt_ids: list[int]
    budget: int
    sampling: RowSampling
    stop_text: StopTextBuffer
    sink: ThreadSink
    slot: int = -1
    n_past: int = 0  # tokens of this sequence in the KV cache
    generated: list[int] = field(default_factory=list)
    text: bytearray = field(default_factory=bytearray)
    next_token: int = -1
    cancelled: bool = False
    finished: bool = False

    @property
    def decoding(self) -> bool:
        return self.n_past >= len(self.prompt_ids)


class LlamaCppEngine(Engine):
    def __init__(
        self, model: LlamaModel, name: str, max_batch_size: int = 16, max_queue: int = 64
    ) -> None:
        if max_batch_size < 1 or max_queue < 0:
            raise ValueError("max_batch_size must be >= 1 and max_queue >= 0")
        if model.shape.n_seq_max < max_batch_size:
            raise ValueError("the context holds fewer sequences than max_batch_size")
        self._model = model
        self._embedding_model = model.is_embedding_model()
        self._info = ModelInfo(
            name=name, engine="llamacpp", device="cpu", context_length=model.n_ctx
        )
        self._template = model.metadata("tokenizer.chat_template")
        self._special = {
            "bos_token": model.special_token_text("bos"),
            "eos_token": model.special_token_text("eos"),
        }
        self._max_batch = max_batch_size
        self._max_queue = max_queue
        self._cond = threading.Condition()
        self._waiting: collections.deque[_Sequence] = collections.deque()
        self._active: list[_Sequence] = []
        self._free_slots = list(range(max_batch_size - 1, -1, -1))
        self._closing = False
        self._closed = False
        self._tokens_generated = 0
        self._passes = 0
        self._max_rows = 0
        self._rows_total = 0
        self._kv_used = 0
        self._embed_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"llamacpp-{name}", daemon=True)
        self._thread.start()

    @classmethod
    def load(
        cls,
        model_path: str | Path | None = None,
        name: str | None = None,
        max_batch_size: int = 16,
        max_queue: int = 64,
        n_ctx: int = 0,
        n_batch: int = 512,
        n_threads: int | None = None,
    ) -> LlamaCppEngine:
        """Load a .gguf file as it is (default: the bundled SmolLM2-135M-Instruct Q4_1).

        ``n_ctx`` is the context of each request, its own KV cells (0: the model's trained
        context, at most 2048); ``n_batch`` the most tokens one decode step carries.
        """
        path = resolve_model_path(model_path)
        if path.suffix != ".gguf":
            raise EngineUnavailableError(
                f"the llamacpp engine serves .gguf files; {str(path)!r} is not one "
                "(use backend 'transformers' for a Hugging Face folder)"
            )
        if max_batch_size > MAX_SEQUENCES:
            raise InvalidParameterError(
                "max_batch_size", f"llama.cpp runs at most {MAX_SEQUENCES} requests at once"
            )
        shape = ContextShape(
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_seq_max=max_batch_size,
            n_threads=n_threads or default_threads(),
        )
        log.info("loading %s with llama.cpp (%s)", path, shape)
        model = LlamaModel(path, shape, default_ctx=DEFAULT_MAX_CONTEXT)
        return cls(model, name or model_name_for(path), max_batch_size, max_queue)

    # ---- Engine interface -------------------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        return self._info

    def tokenize(self, text: str) -> list[int]:
        return self._model.tokenize(text)

    def detokenize(self, token_ids: Sequence[int]) -> str:
        return self._model.detokenize(token_ids)

    def apply_chat_template(self, messages: Sequence[ChatMessage]) -> str:
        if self._template:
            return render_chat(self._template, messages, self._special)
        return plain_transcript(messages)

    async def generate_stream(self, request: GenerationRequest) -> AsyncGenerator[TokenDelta, None]:
        if self._embedding_model:
            raise EngineUnavailableError(
                f"{self._info.name} is an embedding model; it embeds texts, it does not generate"
            )
        prompt_ids = self.prompt_ids(request)
        params = request.params
        seq = _Sequence(
            request_id=request.request_id,
            prompt_ids=prompt_ids,
            budget=self.generation_budget(len(prompt_ids), params),
            sampling=new_row_sampling(params, self._model.n_vocab, "cpu"),
            stop_text=StopTextBuffer(params.stop),
            sink=ThreadSink(asyncio.get_running_loop()),
        )
        self._submit(seq)
        try:
            while True:
                item = await seq.sink.queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.finish_reason is not None:
                    return
        finally:
            # Consumer left (done, break, cancel, deadline): the decode thread frees the slot.
            seq.cancelled = True
            with self._cond:
                if seq in self._waiting:
                    self._waiting.remove(seq)
                self._cond.notify()

    def embed_counted(self, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        """L2-normalized pooled embeddings [len(texts), n_embd] and the tokens read (embedding
        GGUF models only: a generation model says so)."""
        if not self._embedding_model:
            raise EngineUnavailableError(
                f"{self._info.name} is a generation model; embeddings need an embedding GGUF "
                "(a BERT-like model with a pooling type), or the service's embedding model"
            )
        if not texts:
            raise InvalidParameterError("texts", "must hold at least one text")
        with self._embed_lock:
            return self._embed(list(texts))

    @property
    def dimension(self) -> int:
        return self._model.n_embd

    @property
    def name(self) -> str:
        return self._info.name

    def stats(self) -> LlamaCppStats:
        with self._cond:
            return LlamaCppStats(
                running=len(self._active),
                waiting=len(self._waiting),
                tokens_generated=self._tokens_generated,
                forward_passes=self._passes,
                max_rows_in_pass=self._max_rows,
                rows_in_passes=self._rows_total,
                free_slots=len(self._free_slots),
                kv_cells_used=self._kv_used,
            )

    async def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._cond.notify_all()
        await asyncio.to_thread(self._thread.join)
        with self._cond:
            if not self._closed:
                self._closed = True
                self._model.close()

    # ---- decode thread ----------------------------------------------------------------------

    def _submit(self, seq: _Sequence) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("engine is closed")
            if len(self._waiting) >= self._max_queue and len(self._active) >= self._max_batch:
                raise QueueFullError(self._max_queue)
            self._waiting.append(seq)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._release_done()
                while not self._closing and not self._active and not self._waiting:
                    self._cond.wait()
                if self._closing:
                    self._fail_all(
                        RuntimeError("the engine was closed while the request was in flight")
                    )
                    return
                self._admit()
                if not self._active:  # only cancelled or oversized waiters: wait for change
                    if self._waiting:
                        self._cond.wait(0.05)
                    continue
            try:
                self._step()
            except Exception as exc:  # a failed step fails its requests, not the engine
                log.exception("llama.cpp step failed; failing %d requests", len(self._active))
                with self._cond:
                    for seq in self._active:
                        seq.sink.push(exc)
                        seq.finished = True

    def _admit(self) -> None:
        """FIFO: waiting requests take free slots in order (lock held)."""
        while self._waiting and self._free_slots:
            seq = self._waiting[0]
            if seq.cancelled:
                self._waiting.popleft()
                continue
            self._waiting.popleft()
            seq.slot = self._free_slots.pop()
            self._active.append(seq)

    def _release_done(self) -> None:
        """Free the KV cells and slots of finished or abandoned sequences (lock held)."""
        done = [s for s in self._active if s.finished or s.cancelled]
        if not done:
            return
        for seq in done:
            self._model.forget(seq.slot)
            self._free_slots.append(seq.slot)
        self._active = [s for s in self._active if not (s.finished or s.cancelled)]
        self._kv_used = sum(self._model.cells_used(s.slot) for s in self._active)

    def _step(self) -> None:
        model = self._model
        model.clear_batch()
        outputs: list[tuple[int, _Sequence]] = []
        rows = 0
        for seq in self._active:
            if seq.decoding and not seq.cancelled:
                outputs.append((model.add(seq.next_token, seq.n_past, seq.slot, True), seq))
                seq.n_past += 1
                rows += 1
        room = model.shape.n_batch - model.batch_size
        for seq in self._active:
            if room <= 0:
                break
            if seq.decoding or seq.cancelled:
                continue
            start, n = seq.n_past, len(seq.prompt_ids)
            end = min(n, start + room)
            for pos in range(start, end):
                index = model.add(seq.prompt_ids[pos], pos, seq.slot, pos == n - 1)
            seq.n_past = end
            room -= end - start
            rows += 1
            if end == n:
                outputs.append((index, seq))
        if model.batch_size == 0:
            return
        rc = model.decode()
        self._passes += 1
        self._rows_total += rows
        self._max_rows = max(self._max_rows, rows)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed with status {rc}")
        if not outputs:
            return
        logits = torch.from_numpy(model.logits_rows([i for i, _ in outputs]))
        tokens = select_tokens(logits, [s.sampling for _, s in outputs])
        for (_, seq), token in zip(outputs, tokens, strict=True):
            self._accept(seq, token)
        self._kv_used = sum(model.cells_used(s.slot) for s in self._active)

    def _accept(self, seq: _Sequence, token: int) -> None:
        seq.generated.append(token)
        record_token(seq.sampling, token)
        self._tokens_generated += 1
        if seq.cancelled:
            return
        if self._model.is_eog(token):
            self._finish(seq, FINISH_STOP, seq.stop_text.flush(self._text(seq)))
            return
        seq.text += self._model.piece(token)
        text = self._text(seq)
        piece = seq.stop_text.update(text)
        if seq.stop_text.stopped:
            self._finish(seq, FINISH_STOP, piece)
        elif len(seq.generated) >= seq.budget:
            self._finish(seq, FINISH_LENGTH, piece + seq.stop_text.flush(text))
        else:
            seq.next_token = token
            if piece and not seq.sink.push(TokenDelta(piece, (token,))):
                seq.cancelled = True

    @staticmethod
    def _text(seq: _Sequence) -> str:
        # A character split over tokens decodes as U+FFFD until complete; the stop buffer holds it.
        return seq.text.decode("utf-8", "replace")

    def _finish(self, seq: _Sequence, reason: str, piece: str) -> None:
        usage = Usage(len(seq.prompt_ids), len(seq.generated))
        seq.sink.push(TokenDelta(piece, (seq.generated[-1],), reason, usage))
        seq.finished = True

    def _fail_all(self, exc: BaseException) -> None:
        """Lock held: nobody may wait forever on a stopped engine."""
        for seq in (*self._active, *self._waiting):
            seq.sink.push(exc)
        for seq in self._active:
            self._model.forget(seq.slot)
        self._active = []
        self._waiting.clear()

    # ---- embeddings (embedding models have no decode loop of their own) ---------------------

    def _embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        model = self._model
        limit = model.shape.n_batch
        encoded = [model.tokenize(t, add_special=True)[:limit] for t in texts]
        out = np.empty((len(texts), model.n_embd), dtype=np.float32)
        i = 0
        while i < len(encoded):
            model.clear_batch()
            group: list[int] = []
            while (
                i < len(encoded)
                and len(group) < model.shape.n_seq_max
                and model.batch_size + len(encoded[i]) <= limit
            ):
                for pos, token in enumerate(encoded[i]):
                    model.add(token, pos, len(group), True)
                group.append(i)
                i += 1
            rc = model.run_embedding_batch()
            if rc != 0:
                raise RuntimeError(f"llama.cpp embedding pass failed with status {rc}")
            for seq_id, text_index in enumerate(group):
                out[text_index] = model.sequence_embedding(seq_id)
            model.forget(-1)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12), sum(len(e) for e in encoded)
