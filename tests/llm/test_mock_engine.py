import asyncio
import time

import pytest

from sage_llm.engines.base import FINISH_LENGTH, FINISH_STOP, GenerationRequest
from sage_llm.engines.mock import MockEngine
from sage_llm.errors import PromptTooLongError, QueueFullError
from sage_llm.sampling import SamplingParams


def request(prompt: str = "tell me about the mesh", **params: object) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, params=SamplingParams(**params))  # type: ignore[arg-type]


async def collect(engine: MockEngine, req: GenerationRequest) -> list:
    return [d async for d in engine.generate_stream(req)]


async def test_stream_ends_with_finish_reason_and_usage() -> None:
    engine = MockEngine()
    deltas = await collect(engine, request(max_tokens=7, temperature=0))
    assert all(d.finish_reason is None for d in deltas[:-1])
    last = deltas[-1]
    assert last.finish_reason == FINISH_LENGTH
    assert last.usage is not None
    assert last.usage.completion_tokens == 7
    assert last.usage.prompt_tokens == len(engine.tokenize("tell me about the mesh"))
    text = "".join(d.text for d in deltas)
    assert len(text.split()) == 7


async def test_zero_temperature_and_same_seed_repeat_the_text() -> None:
    engine = MockEngine()
    a = await engine.generate(request(temperature=0, max_tokens=20))
    b = await engine.generate(request(temperature=0, max_tokens=20))
    assert a.text == b.text
    s1 = await engine.generate(request(temperature=1, seed=7, max_tokens=20))
    s2 = await engine.generate(request(temperature=1, seed=7, max_tokens=20))
    s3 = await engine.generate(request(temperature=1, seed=8, max_tokens=20))
    assert s1.text == s2.text != s3.text


async def test_stop_sequence_ends_generation_and_is_not_returned() -> None:
    engine = MockEngine()
    full = await engine.generate(request(temperature=0, max_tokens=40))
    stop_word = full.text.split()[5]
    cut = await engine.generate(request(temperature=0, max_tokens=40, stop=[stop_word]))
    assert cut.finish_reason == FINISH_STOP
    assert cut.text == full.text[: full.text.index(stop_word)]
    assert stop_word not in cut.text


async def test_configured_time_to_first_token_and_rate_are_respected() -> None:
    engine = MockEngine(ttft_s=0.05, tokens_per_s=200)
    start = time.perf_counter()
    stream = engine.generate_stream(request(max_tokens=11))
    await anext(stream)
    ttft = time.perf_counter() - start
    async for _ in stream:
        pass
    total = time.perf_counter() - start
    assert ttft >= 0.05
    assert total >= 0.05 + 10 / 200


async def test_cancelled_stream_stops_the_engine() -> None:
    engine = MockEngine(tokens_per_s=500)
    task = asyncio.create_task(collect(engine, request(max_tokens=10_000)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    produced = engine.tokens_generated
    await asyncio.sleep(0.05)
    assert engine.running == 0
    assert engine.tokens_generated == produced < 10_000


async def test_full_queue_refuses_new_requests() -> None:
    engine = MockEngine(tokens_per_s=100, max_batch_size=1, max_queue=1)
    running = engine.generate_stream(request(max_tokens=1000))
    await anext(running)
    waiting = asyncio.create_task(collect(engine, request(max_tokens=1)))
    await asyncio.sleep(0.01)
    with pytest.raises(QueueFullError):
        await collect(engine, request(max_tokens=1))
    await running.aclose()
    assert (await waiting)[-1].finish_reason == FINISH_LENGTH


async def test_prompt_longer_than_context_names_both_lengths() -> None:
    engine = MockEngine(context_length=16)
    with pytest.raises(PromptTooLongError) as err:
        await collect(engine, request(prompt="word " * 40))
    assert (err.value.prompt_tokens, err.value.context_length) == (40, 16)
    assert "40" in str(err.value) and "16" in str(err.value)
