"""The llamacpp engine on the bundled SmolLM2-135M-Instruct Q4_1 GGUF, run natively by llama.cpp.

The engine contract the transformers engine meets (answers, streaming, batching, stops, seeds,
penalties, cancel, queue, context, close, tokenizer), plus what is llama.cpp's own: several
sequences in one llama_decode, KV cells freed on cancel, the chat template read from the GGUF.
"""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sage_llm.engines.base import FINISH_LENGTH, FINISH_STOP, ChatMessage, GenerationRequest
from sage_llm.errors import EngineUnavailableError, PromptTooLongError, QueueFullError
from sage_llm.sampling import SamplingParams

llama_cpp = pytest.importorskip("llama_cpp")


def chat(engine: Any, question: str, **params: Any) -> GenerationRequest:
    prompt = engine.apply_chat_template([ChatMessage("user", question)])
    return GenerationRequest(prompt=prompt, params=SamplingParams(**params))


async def wait_idle(engine: Any) -> None:
    for _ in range(1500):  # generous: a step can take long on a busy 2-core machine
        if engine.stats().running == 0 and engine.stats().waiting == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"engine still busy: {engine.stats()}")


def small_engine(**options: Any) -> Any:
    from sage_llm.engines.llamacpp_engine import LlamaCppEngine

    return LlamaCppEngine.load(name="small", **options)


async def test_smollm2_gguf_knows_the_capital_of_france(llamacpp_engine: Any) -> None:
    done = await llamacpp_engine.generate(
        chat(llamacpp_engine, "Which city is the capital of France?", temperature=0, max_tokens=20)
    )
    assert "Paris" in done.text
    assert done.finish_reason == FINISH_STOP
    assert llamacpp_engine.info.engine == "llamacpp"


def test_chat_template_comes_from_the_gguf_and_renders_as_hugging_face(
    llamacpp_engine: Any,
) -> None:
    from sage_llm.model_files import default_chat_model_path, load_tokenizer

    messages = [
        ChatMessage("system", "You answer in one word."),
        ChatMessage("user", "Capital of France?"),
        ChatMessage("assistant", "Paris."),
        ChatMessage("user", "And of Italy? — répondez"),
    ]
    hf = load_tokenizer(default_chat_model_path()).apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages],
        tokenize=False,
        add_generation_prompt=True,
    )
    ours = llamacpp_engine.apply_chat_template(messages)
    assert ours == hf
    assert ours.endswith("<|im_start|>assistant\n")


async def test_stream_delivers_pieces_in_order_then_usage(llamacpp_engine: Any) -> None:
    req = chat(llamacpp_engine, "Count from 1 to 30.", temperature=0, max_tokens=12)
    deltas = [d async for d in llamacpp_engine.generate_stream(req)]
    assert len(deltas) > 3
    assert all(d.finish_reason is None and d.usage is None for d in deltas[:-1])
    assert deltas[-1].finish_reason == FINISH_LENGTH
    assert deltas[-1].usage.completion_tokens == 12
    assert deltas[-1].usage.prompt_tokens == llamacpp_engine.count_tokens(req.prompt)
    whole = await llamacpp_engine.generate(req)
    assert "".join(d.text for d in deltas) == whole.text


async def test_concurrent_requests_share_llama_decode_calls_and_stop_on_their_own(
    llamacpp_engine: Any,
) -> None:
    questions = [
        "Count from 1 to 30.",
        "Name some colors.",
        "List the days of the week.",
        "Say hi.",
    ]
    budgets = [6, 10, 14, 16]
    await wait_idle(llamacpp_engine)
    before = llamacpp_engine.stats()
    together = await asyncio.gather(
        *[
            llamacpp_engine.generate(chat(llamacpp_engine, q, temperature=0, max_tokens=n))
            for q, n in zip(questions, budgets, strict=True)
        ]
    )
    await wait_idle(llamacpp_engine)
    after = llamacpp_engine.stats()
    tokens = after.tokens_generated - before.tokens_generated
    passes = after.forward_passes - before.forward_passes
    rows = after.rows_in_passes - before.rows_in_passes
    assert tokens == sum(t.usage.completion_tokens for t in together)
    assert passes < tokens  # one llama_decode decoded several sequences
    assert rows / passes > 1
    assert after.max_rows_in_pass > 1
    for t, n in zip(together, budgets, strict=True):
        assert t.usage.completion_tokens <= n
        assert (t.finish_reason == FINISH_LENGTH) == (t.usage.completion_tokens == n)
    # every sequence's KV cells were given back once it finished
    assert after.free_slots == 8 and after.kv_cells_used == 0


async def test_a_request_decodes_the_same_alone_and_in_a_batch(llamacpp_engine: Any) -> None:
    req = chat(llamacpp_engine, "Name three rivers.", temperature=0, max_tokens=10)
    alone = await llamacpp_engine.generate(req)
    others = [
        chat(llamacpp_engine, q, temperature=0, max_tokens=10)
        for q in ("Say hi.", "Count to five.", "Name a fruit.")
    ]
    together = await asyncio.gather(*(llamacpp_engine.generate(r) for r in [req, *others]))
    assert together[0].text == alone.text


async def test_stop_sequence_cuts_the_text(llamacpp_engine: Any) -> None:
    question = "Count from 1 to 10, separated by commas."
    full = await llamacpp_engine.generate(
        chat(llamacpp_engine, question, temperature=0, max_tokens=24)
    )
    assert "4" in full.text
    cut = await llamacpp_engine.generate(
        chat(llamacpp_engine, question, temperature=0, max_tokens=24, stop=["4"])
    )
    assert cut.finish_reason == FINISH_STOP
    assert cut.text == full.text[: full.text.index("4")]


async def test_same_seed_gives_same_sample(llamacpp_engine: Any) -> None:
    async def sample(seed: int) -> str:
        req = chat(
            llamacpp_engine,
            "Write a word.",
            temperature=1.0,
            top_p=0.9,
            top_k=50,
            seed=seed,
            max_tokens=8,
        )
        return (await llamacpp_engine.generate(req)).text

    first, again, other = [await sample(s) for s in (3, 3, 4)]
    assert first == again
    assert first != other
    # batching does not change a seeded sample either
    assert await asyncio.gather(sample(3), sample(4)) == [first, other]


async def test_penalties_are_applied(llamacpp_engine: Any) -> None:
    question = "Count from 1 to 30."
    plain = await llamacpp_engine.generate(
        chat(llamacpp_engine, question, temperature=0, max_tokens=12)
    )
    penalised = await llamacpp_engine.generate(
        chat(
            llamacpp_engine,
            question,
            temperature=0,
            max_tokens=12,
            repetition_penalty=2.0,
            frequency_penalty=1.5,
        )
    )
    assert plain.text != penalised.text


async def test_cancel_stops_decoding_and_frees_the_slot_and_its_kv_cells(
    llamacpp_engine: Any,
) -> None:
    await wait_idle(llamacpp_engine)
    stream = llamacpp_engine.generate_stream(
        chat(llamacpp_engine, "Tell a very long story.", max_tokens=2000)
    )
    await anext(stream)
    await anext(stream)
    busy = llamacpp_engine.stats()
    assert busy.free_slots == 7 and busy.kv_cells_used > 0
    await stream.aclose()
    await wait_idle(llamacpp_engine)
    stopped_at = llamacpp_engine.stats().tokens_generated
    await asyncio.sleep(0.3)
    idle = llamacpp_engine.stats()
    assert idle.tokens_generated == stopped_at
    assert idle.free_slots == 8
    assert idle.kv_cells_used == 0


async def test_full_queue_refuses_with_queue_full() -> None:
    engine = small_engine(max_batch_size=1, max_queue=1, n_ctx=1024)
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


async def test_prompt_longer_than_context_is_refused_with_both_lengths(
    llamacpp_engine: Any,
) -> None:
    prompt = "hello " * (llamacpp_engine.context_length + 10)
    with pytest.raises(PromptTooLongError) as err:
        await llamacpp_engine.generate(GenerationRequest(prompt=prompt))
    assert err.value.context_length == llamacpp_engine.context_length == 2048  # per slot
    assert err.value.prompt_tokens > 2048


async def test_a_long_prompt_is_prefilled_in_chunks() -> None:
    engine = small_engine(max_batch_size=2, n_batch=64, n_ctx=2048)
    try:
        question = "Summarise: " + "the cat sat on the mat. " * 60 + "What sat on the mat?"
        req = chat(engine, question, temperature=0, max_tokens=8)
        assert engine.count_tokens(req.prompt) > 3 * 64
        done = await engine.generate(req)
        assert done.usage.completion_tokens >= 1
        assert engine.stats().forward_passes >= 4  # several 64-token chunks, then decoding
    finally:
        await engine.close()


async def test_closing_the_engine_fails_requests_in_flight() -> None:
    engine = small_engine(max_batch_size=1, max_queue=4, n_ctx=1024)
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
    await engine.close()  # idempotent


def test_tokenize_and_count_match_llamas_own_tokenizer(llamacpp_engine: Any) -> None:
    from sage_llm.model_files import default_chat_model_path

    reference = llama_cpp.Llama(str(default_chat_model_path()), vocab_only=True, verbose=False)
    texts = [
        "The capital of France is Paris.",
        "<|im_start|>user\nhi<|im_end|>",
        "naïve café — 東京",
        "",
    ]
    for text in texts:
        ids = llamacpp_engine.tokenize(text)
        assert ids == reference.tokenize(text.encode(), add_bos=False, special=True)
        assert llamacpp_engine.count_tokens(text) == len(ids)
    plain = texts[0]
    assert llamacpp_engine.detokenize(llamacpp_engine.tokenize(plain)) == plain
    assert 4 <= len(llamacpp_engine.tokenize(plain)) <= len(plain)


def test_embeddings_from_a_generation_model_say_what_is_needed(llamacpp_engine: Any) -> None:
    with pytest.raises(EngineUnavailableError, match="embedding GGUF"):
        llamacpp_engine.embed_counted(["a cat"])


def test_a_hugging_face_folder_is_refused_with_the_engine_to_use(tmp_path: Path) -> None:
    from sage_llm.engines.llamacpp_engine import LlamaCppEngine

    with pytest.raises(EngineUnavailableError, match="transformers"):
        LlamaCppEngine.load(tmp_path)
