"""LLM access for pipelines: SageLLMGenerator (in-process engine or the mesh's LLM service),
OpenAIGenerator (any OpenAI-compatible server), LLMClient (the service's typed client) and an
embedding client."""

from sage_client.llm.client import LLMClient
from sage_client.llm.embeddings import EmbeddingClient
from sage_client.llm.generator import SageLLMGenerator
from sage_client.llm.openai_generator import OpenAIGenerator

__all__ = ["EmbeddingClient", "LLMClient", "OpenAIGenerator", "SageLLMGenerator"]
