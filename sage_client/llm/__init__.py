"""LLM access for pipelines: SageLLMGenerator (in-process engine or the mesh's LLM service),
OpenAIGenerator (any OpenAI-compatible server), LLMClient and AsyncLLMClient (the service's
typed clients) and an embedding client."""

from sage_client.llm.client import AsyncLLMClient, LLMClient
from sage_client.llm.embeddings import EmbeddingClient
from sage_client.llm.generator import SageLLMGenerator
from sage_client.llm.openai_generator import OpenAIGenerator

__all__ = ["AsyncLLMClient", "EmbeddingClient", "LLMClient", "OpenAIGenerator", "SageLLMGenerator"]
