"""Hugging Face transformers engine (CPU, CUDA, or Ascend NPU) with batched continuous decoding.

One scheduler thread owns the model. Each loop it admits waiting requests (prefilled together,
then merged into the running batch), and runs ONE forward pass that decodes the next token of
every running request. Each request leaves the batch on its own: max_tokens, a stop sequence,
EOS, or its consumer going away (cancel/deadline) — the last is seen before the next step, so a
cancelled request costs at most one more forward pass.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import DynamicCache

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
from sage_llm.engines.kv_batch import KVBatch, positions_for_decode, positions_for_prefill
from sage_llm.engines.stop_text import StopTextBuffer
from sage_llm.engines.thread_sink import ThreadSink
from sage_llm.engines.token_sampler import (
    RowSampling,
    new_row_sampling,
    record_token,
    select_tokens,
)
from sage_llm.errors import QueueFullError
from sage_llm.model_files import load_causal_lm, load_tokenizer, model_name_for, resolve_model_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineStats:
    running: int
    waiting: int
    tokens_generated: int
    forward_passes: int
    max_rows_in_pass: int


@dataclass(eq=False)
class _Sequence:
    request_id: str
    prompt_ids: list[int]
    budget: int
    sampling: RowSampling
    stop_text: StopTextBuffer
    sink: ThreadSink
    generated: list[int] = field(default_factory=list)
    next_token: int = -1
    cancelled: bool = False
    finished: bool = False


class TransformersEngine(Engine):
    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        name: str,
        device: str = "cpu",
        max_batch_size: int = 16,
        max_queue: int = 64,
        engine_label: str = "transformers",
    ) -> None:
        if max_batch_size < 1 or max_queue < 0:
            raise ValueError("max_batch_size must be >= 1 and max_queue >= 0")
        self._model = model
        self._tokenizer = tokenizer
        self._tokenizer_lock = threading.Lock()  # the fast tokenizer is shared with the thread
        self._device = device
        self._vocab_size = int(model.get_output_embeddings().weight.shape[0])
        self._info = ModelInfo(
            name=name,
            engine=engine_label,
            device=device,
            context_length=int(getattr(model.config, "max_position_embeddings", 2048)),
        )
        self._eos_ids = _eos_ids(model, tokenizer)
        self._pad_id = (
            tokenizer.pad_token_id
            if tokenizer.pad_token_id is not None
            else min(self._eos_ids, default=0)
        )
        self._max_batch = max_batch_size
        self._max_queue = max_queue
        self._cond = threading.Condition()
        self._waiting: collections.deque[_Sequence] = collections.deque()
        self._active: list[_Sequence] = []
        self._batch: KVBatch | None = None
        self._closing = False
        self._tokens_generated = 0
        self._forward_passes = 0
        self._max_rows = 0
        self._thread = threading.Thread(target=self._run, name=f"llm-scheduler-{name}", daemon=True)
        self._thread.start()

    @classmethod
    def load(
        cls,
        model_path: str | Path | None = None,
        device: str = "cpu",
        name: str | None = None,
        max_batch_size: int = 16,
        max_queue: int = 64,
        engine_label: str = "transformers",
    ) -> TransformersEngine:
        """Load a local HF model folder or .gguf file (default: the bundled SmolLM2-135M-Instruct)."""
        path = resolve_model_path(model_path)
        dtype = torch.float32 if device == "cpu" else torch.float16
        log.info("loading %s on %s (%s)", path, device, dtype)
        model = load_causal_lm(path, device, dtype)
        tokenizer = load_tokenizer(path)
        return cls(
            model,
            tokenizer,
            name or model_name_for(path),
            device=device,
            max_batch_size=max_batch_size,
            max_queue=max_queue,
            engine_label=engine_label,
        )

    # ---- Engine interface -------------------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        return self._info

    def tokenize(self, text: str) -> list[int]:
        with self._tokenizer_lock:
            return list(self._tokenizer.encode(text, add_special_tokens=False))

    def detokenize(self, token_ids: Sequence[int]) -> str:
        with self._tokenizer_lock:
            return str(self._tokenizer.decode(list(token_ids), skip_special_tokens=True))

    def apply_chat_template(self, messages: Sequence[ChatMessage]) -> str:
        turns = [{"role": m.role, "content": m.content} for m in messages]
        with self._tokenizer_lock:
            if getattr(self._tokenizer, "chat_template", None):
                return str(
                    self._tokenizer.apply_chat_template(
                        turns, tokenize=False, add_generation_prompt=True
                    )
                )
        # A base model without a template: a plain transcript that ends on the assistant's turn.
        return "".join(f"{t['role']}: {t['content']}\n" for t in turns) + "assistant:"

    async def generate_stream(self, request: GenerationRequest) -> AsyncGenerator[TokenDelta, None]:
        prompt_ids = self.prompt_ids(request)
        params = request.params
        seq = _Sequence(
            request_id=request.request_id,
            prompt_ids=prompt_ids,
            budget=self.generation_budget(len(prompt_ids), params),
            sampling=new_row_sampling(params, self._vocab_size, self._device),
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
            # Consumer left (done, break, cancel, deadline): tell the scheduler to drop the row.
            seq.cancelled = True
            with self._cond:
                if seq in self._waiting:
                    self._waiting.remove(seq)

    def stats(self) -> EngineStats:
        with self._cond:
            return EngineStats(
                running=len(self._active),
                waiting=len(self._waiting),
                tokens_generated=self._tokens_generated,
                forward_passes=self._forward_passes,
                max_rows_in_pass=self._max_rows,
            )

    async def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        await asyncio.to_thread(self._thread.join)

    # ---- scheduler thread -------------------------------------------------------------------

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
                while not self._closing and not self._waiting and not self._active:
                    self._cond.wait()
                if self._closing:
                    self._fail_all(
                        RuntimeError("the engine was closed while the request was in flight")
                    )
                    return
                joining: list[_Sequence] = []
                while self._waiting and len(self._active) + len(joining) < self._max_batch:
                    seq = self._waiting.popleft()
                    if not seq.cancelled:
                        joining.append(seq)
            try:
                with torch.inference_mode():
                    if joining:
                        self._prefill(joining)
                    self._drop_done()
                    if self._active:
                        self._decode_step()
                        self._drop_done()
            except Exception as exc:  # a failed forward pass fails its requests, not the engine
                log.exception(
                    "forward pass failed; failing %d requests", len(self._active) + len(joining)
                )
                for seq in {*self._active, *joining}:
                    seq.sink.push(exc)
                with self._cond:
                    self._active = []
                    self._batch = None

    def _fail_all(self, exc: BaseException) -> None:
        """Called with the lock held: nobody may wait forever on a stopped engine."""
        for seq in (*self._active, *self._waiting):
            seq.sink.push(exc)
        self._active, self._batch = [], None
        self._waiting.clear()

    def _prefill(self, joining: list[_Sequence]) -> None:
        width = max(len(s.prompt_ids) for s in joining)
        input_ids = torch.full((len(joining), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(joining), width), dtype=torch.long)
        for row, seq in enumerate(joining):
            n = len(seq.prompt_ids)
            input_ids[row, width - n :] = torch.tensor(seq.prompt_ids)
            mask[row, width - n :] = 1
        input_ids, mask = input_ids.to(self._device), mask.to(self._device)
        out = self._model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions_for_prefill(mask),
            past_key_values=DynamicCache(config=self._model.config),
            use_cache=True,
            logits_to_keep=1,
        )
        self._count_pass(len(joining))
        tokens = select_tokens(out.logits[:, -1, :], [s.sampling for s in joining])
        fresh = KVBatch(out.past_key_values, mask)
        with self._cond:
            if self._batch is None:
                self._batch = fresh
            else:
                self._batch.append(fresh)
            self._active.extend(joining)
        for seq, token in zip(joining, tokens, strict=True):
            self._accept(seq, token)

    def _decode_step(self) -> None:
        assert self._batch is not None
        rows = self._active
        input_ids = torch.tensor([[s.next_token] for s in rows], device=self._device)
        mask = self._batch.extend_mask()
        out = self._model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions_for_decode(mask),
            past_key_values=self._batch.cache,
            use_cache=True,
        )
        self._count_pass(len(rows))
        tokens = select_tokens(out.logits[:, -1, :], [s.sampling for s in rows])
        for seq, token in zip(rows, tokens, strict=True):
            self._accept(seq, token)

    def _accept(self, seq: _Sequence, token: int) -> None:
        seq.generated.append(token)
        record_token(seq.sampling, token)
        self._tokens_generated += 1
        if seq.cancelled:
            return
        if token in self._eos_ids:
            self._finish(seq, FINISH_STOP)
            return
        text = self.detokenize(seq.generated)
        piece = seq.stop_text.update(text)
        if seq.stop_text.stopped:
            self._finish(seq, FINISH_STOP, piece)
        elif len(seq.generated) >= seq.budget:
            self._finish(seq, FINISH_LENGTH, piece + seq.stop_text.flush(text))
        else:
            seq.next_token = token
            if piece and not seq.sink.push(TokenDelta(piece, (token,))):
                seq.cancelled = True

    def _finish(self, seq: _Sequence, reason: str, piece: str | None = None) -> None:
        if piece is None:
            piece = seq.stop_text.flush(self.detokenize(seq.generated))
        usage = Usage(len(seq.prompt_ids), len(seq.generated))
        seq.sink.push(TokenDelta(piece, (seq.generated[-1],), reason, usage))
        seq.finished = True

    def _drop_done(self) -> None:
        keep = [i for i, s in enumerate(self._active) if not (s.finished or s.cancelled)]
        if len(keep) == len(self._active):
            return
        with self._cond:
            if keep:
                assert self._batch is not None
                self._batch.keep_rows(keep)
                self._active = [self._active[i] for i in keep]
            else:
                self._active = []
                self._batch = None

    def _count_pass(self, rows: int) -> None:
        self._forward_passes += 1
        self._max_rows = max(self._max_rows, rows)


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return frozenset(ids)
