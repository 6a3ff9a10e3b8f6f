"""vLLM runs only on a CUDA GPU with vllm installed; elsewhere these tests skip and say why."""

import importlib.util

import pytest

from sage_llm.engines.base import ChatMessage, GenerationRequest
from sage_llm.sampling import SamplingParams
from sage_llm.selection import cuda_available

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not cuda_available(), reason="needs a CUDA GPU (none visible to torch)"),
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vllm installed"),
]


async def test_vllm_streams_paris_and_aborts_on_close() -> None:
    from sage_llm.engines.vllm_engine import VLLMEngine

    engine = VLLMEngine.load(None, max_model_len=2048)
    try:
        prompt = engine.apply_chat_template([ChatMessage("user", "What is the capital of France?")])
        done = await engine.generate(
            GenerationRequest(prompt=prompt, params=SamplingParams(temperature=0, max_tokens=20))
        )
        assert "Paris" in done.text
        stream = engine.generate_stream(
            GenerationRequest(prompt=prompt, params=SamplingParams(max_tokens=1000))
        )
        await anext(stream)
        await stream.aclose()
    finally:
        await engine.close()
