"""A model-free engine: deterministic text at a configurable time-to-first-token and token rate.

A product feature for tests and demos, chosen only when asked for by name (``auto`` never picks it).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import zlib
from collections.abc import AsyncGenerator, Sequence

from sage_llm.engines.admission import AdmissionQueue
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
from sage_llm.engines.stop_text import StopTextBuffer

# A fixed vocabulary keeps output readable and tokenization reversible for generated text.
_WORDS = (
    "the a of and to in is was for on with as by at from that this it be are data stream "
    "mesh service model token query answer memory vector search graph node edge batch time "
    "fast slow small large local remote cache index record field value key store load run "
    "job task step plan code test build make send read write open close start stop wait"
).split()
_UNKNOWN_BASE = 1000
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


class MockEngine(Engine):
    def __init__(
        self,
        name: str = "mock",
        ttft_s: float = 0.0,
        tokens_per_s: float = 0.0,
        context_length: int = 4096,
        max_batch_size: int = 64,
        max_queue: int = 256,
    ) -> None:
        """``tokens_per_s == 0`` emits tokens as fast as the event loop allows; up to
        ``max_batch_size`` requests generate at once and ``max_queue`` more wait."""
        if ttft_s < 0 or tokens_per_s < 0:
            raise ValueError("ttft_s and tokens_per_s must be >= 0")
        self._info = ModelInfo(
            name=name, engine="mock", device="cpu", context_length=context_length
        )
        self._ttft_s = ttft_s
        self._interval_s = 1.0 / tokens_per_s if tokens_per_s > 0 else 0.0
        self._admission = AdmissionQueue(max_batch_size, max_queue)
        self.tokens_generated = 0  # engine-side counter: proves cancelled requests stop decoding
        self.running = 0

    @property
    def info(self) -> ModelInfo:
        return self._info

    def tokenize(self, text: str) -> list[int]:
        ids = []
        # finditer, not findall: one C call over a huge prompt would hold the GIL for all of it.
        for match in _TOKEN_RE.finditer(text):
            word = match.group()
            try:
                ids.append(_WORDS.index(word.lower()))
            except ValueError:
                ids.append(_UNKNOWN_BASE + zlib.crc32(word.encode()) % 30000)
        return ids

    def detokenize(self, token_ids: Sequence[int]) -> str:
        return "".join(
            " " + (_WORDS[t] if t < len(_WORDS) else "<unk>") for t in token_ids
        ).lstrip()

    def apply_chat_template(self, messages: Sequence[ChatMessage]) -> str:
        turns = "".join(f"<{m.role}> {m.content}\n" for m in messages)
        return turns + "<assistant>"

    async def generate_stream(self, request: GenerationRequest) -> AsyncGenerator[TokenDelta, None]:
        params = request.params
        prompt_ids = self.prompt_ids(request)
        budget = self.generation_budget(len(prompt_ids), params)
        rng = random.Random(self._seed_for(prompt_ids, params.seed, params.greedy))
        async with self._admission.slot():
            self.running += 1
            try:
                start = time.perf_counter()
                buffer = StopTextBuffer(params.stop)
                generated: list[int] = []
                text = ""
                finish = FINISH_LENGTH
                for i in range(budget):
                    due = start + self._ttft_s + i * self._interval_s
                    # sleep(0) still yields, so a cancel lands between tokens even at full speed
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    token = rng.randrange(len(_WORDS))
                    generated.append(token)
                    self.tokens_generated += 1
                    text += (" " if text else "") + _WORDS[token]
                    piece = buffer.update(text)
                    if buffer.stopped:
                        finish = FINISH_STOP
                        if piece:
                            yield TokenDelta(piece, (token,))
                        break
                    if piece:
                        yield TokenDelta(piece, (token,))
                tail = buffer.flush(text)
                yield TokenDelta(tail, (), finish, Usage(len(prompt_ids), len(generated)))
            finally:
                self.running -= 1

    @staticmethod
    def _seed_for(prompt_ids: list[int], seed: int | None, greedy: bool) -> int | None:
        base = zlib.crc32(repr(prompt_ids).encode())
        if seed is not None:
            return base ^ (seed * 2654435761 % 2**32)
        # Greedy decoding is deterministic; unseeded sampling is not.
        return base if greedy else None
