"""The transformers engine on the real SmolLM2-135M-Instruct (CPU), loaded once per session."""

import asyncio
from typing import Any

import pytest

from sage_llm.engines.base import FINISH_LENGTH, FINISH_STOP, ChatMessage, GenerationRequest
from sage_llm.errors import PromptTooLongError, QueueFullError
from sage_llm.sampling import SamplingParams

# Real decoding on a 2-core CPU: seconds per test, so the module runs with the slow ones.
pytestmark = pytest.mark.slow


def chat(engine: Any, question: str, **params: Any) -> GenerationRequest:
    prompt = engine.apply_chat_template([ChatMessage("user", question)])
    return GenerationRequest(prompt=prompt, params=SamplingParams(**params))


async def test_smollm2_knows_the_capital_of_france(smollm2_engine: Any) -> None:
    done = await smollm2_engine.generate(
        chat(smollm2_engine, "What is the capital of France?", temperature=0, max_tokens=20)
    )
    assert "Paris" in done.text
    assert done.finish_reason == FINISH_STOP


async def test_stream_delivers_pieces_in_order_then_usage(smollm2_engine: Any) -> None:
    req = chat(smollm2_engine, "Count from 1 to 30.", temperature=0, max_tokens=12)
    deltas = [d async for d in smollm2_engine.generate_stream(req)]
    assert len(deltas) > 3
    assert all(d.finish_reason is None and d.usage is None for d in deltas[:-1])
    assert deltas[-1].finish_reason == FINISH_LENGTH
    assert deltas[-1].usage.completion_tokens == 12
    assert deltas[-1].usage.prompt_tokens == smollm2_engine.count_tokens(req.prompt)
    whole = await smollm2_engine.generate(req)
    assert "".join(d.text for d in deltas) == whole.text


async def test_concurrent_requests_share_forward_passes_and_stop_on_their_own(
    smollm2_engine: Any,
) -> None:
    questions = [
        "Count from 1 to 30.",
        "Name some colors.",
        "List the days of the week.",
        "Say hi.",
    ]
    budgets = [3, 5, 8, 12]
    alone = [
        await smollm2_engine.generate(chat(smollm2_engine, q, temperature=0, max_tokens=n))
        for q, n in zip(questions, budgets, strict=True)
    ]
    before = smollm2_engine.stats()
    together = await asyncio.gather(
        *[
            smollm2_engine.generate(chat(smollm2_engine, q, temperature=0, max_tokens=n))
            for q, n in zip(questions, budgets, strict=True)
        ]
    )
    after = smollm2_engine.stats()
    tokens = after.tokens_generated - before.tokens_generated
    passes = after.forward_passes - before.forward_passes
    assert passes < tokens  # one pass decoded several requests
    assert after.max_rows_in_pass >= 2
    for a, t, n in zip(alone, together, budgets, strict=True):
        assert t.text == a.text  # batching (left padding) does not change greedy output
        assert t.usage.completion_tokens <= n
        assert (t.finish_reason == FINISH_LENGTH) == (t.usage.completion_tokens == n)


async def test_stop_sequence_cuts_the_text(smollm2_engine: Any) -> None:
    req = chat(
        smollm2_engine, "Count from 1 to 10, separated by commas.", temperature=0, max_tokens=24
    )
    full = await smollm2_engine.generate(req)
    assert "4" in full.text
    cut = await smollm2_engine.generate(
        chat(
            smollm2_engine,
            "Count from 1 to 10, separated by commas.",
            temperature=0,
            max_tokens=24,
            stop=["4"],
        )
    )
    assert cut.finish_reason == FINISH_STOP
    assert cut.text == full.text[: full.text.index("4")]


async def test_same_seed_gives_same_sample(smollm2_engine: Any) -> None:
    texts = [
        (
            await smollm2_engine.generate(
                chat(
                    smollm2_engine,
                    "Write a word.",
                    temperature=1.0,
                    top_p=0.9,
                    top_k=50,
                    seed=s,
                    max_tokens=6,
                )
            )
        ).text
        for s in (3, 3, 4)
    ]
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


async def test_penalties_are_applied(smollm2_engine: Any) -> None:
    question = "Count from 1 to 30."  # the plain answer repeats "." and newlines at once
    plain = await smollm2_engine.generate(
        chat(smollm2_engine, question, temperature=0, max_tokens=12)
    )
    penalised = await smollm2_engine.generate(
        chat(
            smollm2_engine,
            question,
            temperature=0,
            max_tokens=12,
            repetition_penalty=2.0,
            frequency_penalty=1.5,
        )
    )
    assert plain.text != penalised.text


async def test_cancel_stops_decoding_in_the_engine(smollm2_engine: Any) -> None:
    stream = smollm2_engine.generate_stream(
        chat(smollm2_engine, "Tell a very long story.", max_tokens=2000)
    )
    await anext(stream)
    await anext(stream)
    await stream.aclose()
    for _ in range(1500):  # generous: a forward pass can take seconds on a busy 2-core machine
        if smollm2_engine.stats().running == 0:
            break
        await asyncio.sleep(0.02)
    stopped_at = smollm2_engine.stats().tokens_generated
    await asyncio.sleep(0.3)
    assert smollm2_engine.stats().running == 0
    assert smollm2_engine.stats().tokens_generated == stopped_at


async def test_full_queue_refuses_with_queue_full(smollm2: Any) -> None:
    from sage_llm.engines.transformers_engine import TransformersEngine

    model, tokenizer = smollm2
    engine = TransformersEngine(model, tokenizer, name="tiny-queue", max_batch_size=1, max_queue=1)
    try:
        running = engine.generate_stream(chat(engine, "Tell a long story.", max_tokens=500))
        await anext(running)
        waiting = engine.generate_stream(chat(engine, "Hi", max_tokens=2))
        waiting_task = asyncio.create_task(anext(waiting))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFullError):
            await anext(engine.generate_stream(chat(engine, "Hello", max_tokens=2)))
        await running.aclose()
        await waiting_task
        await waiting.aclose()
    finally:
        await engine.close()


async def test_prompt_longer_than_context_is_refused_with_both_lengths(smollm2_engine: Any) -> None:
    prompt = "hello " * (smollm2_engine.context_length + 10)
    with pytest.raises(PromptTooLongError) as err:
        await smollm2_engine.generate(GenerationRequest(prompt=prompt))
    assert err.value.context_length == smollm2_engine.context_length == 8192
    assert err.value.prompt_tokens > 8192


async def test_closing_the_engine_fails_requests_in_flight(smollm2: Any) -> None:
    from sage_llm.engines.transformers_engine import TransformersEngine

    model, tokenizer = smollm2
    engine = TransformersEngine(model, tokenizer, name="closing", max_batch_size=1, max_queue=4)
    running = engine.generate_stream(chat(engine, "Tell a long story.", max_tokens=500))
    await anext(running)
    waiting = asyncio.create_task(engine.generate(chat(engine, "Hi", max_tokens=2)))
    await asyncio.sleep(0.05)
    await engine.close()
    with pytest.raises(RuntimeError, match="closed"):
        async for _ in running:
            pass
    with pytest.raises(RuntimeError, match="closed"):
        await waiting


def test_tokenize_round_trips_and_counts_match(smollm2_engine: Any) -> None:
    text = "The capital of France is Paris."
    ids = smollm2_engine.tokenize(text)
    assert 4 <= len(ids) <= len(text)
    assert smollm2_engine.detokenize(ids) == text
    assert smollm2_engine.count_tokens(text) == len(ids)
