import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def smollm2() -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct's model and tokenizer, loaded once per test session."""
    pytest.importorskip("torch")
    import torch

    from sage_llm.model_files import default_chat_model_path, load_causal_lm, load_tokenizer

    path = default_chat_model_path()
    return load_causal_lm(path, "cpu", torch.float32), load_tokenizer(path)


@pytest.fixture(scope="session")
def smollm2_engine(smollm2: tuple[Any, Any]) -> Iterator[Any]:
    from sage_llm.engines.transformers_engine import TransformersEngine

    model, tokenizer = smollm2
    engine = TransformersEngine(model, tokenizer, name="smollm2", max_batch_size=8, max_queue=16)
    yield engine
    asyncio.run(engine.close())


@pytest.fixture(scope="session")
def embedder() -> Any:
    from sage_llm.embeddings import SentenceEmbedder

    return SentenceEmbedder()


@pytest.fixture(scope="session")
def llamacpp_engine() -> Iterator[Any]:
    """The llamacpp engine on the bundled SmolLM2-135M-Instruct Q4_1 GGUF, loaded once."""
    pytest.importorskip("llama_cpp")
    from sage_llm.engines.llamacpp_engine import LlamaCppEngine

    engine = LlamaCppEngine.load(name="smollm2-gguf", max_batch_size=8, max_queue=16)
    yield engine
    asyncio.run(engine.close())
