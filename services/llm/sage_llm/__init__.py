"""sage_llm: the LLM service — engines (mock, transformers, vLLM, Ascend), embeddings, and its server."""
