"""The SAGE Mesh memory orchestrator: per-session memories, content in KV, vectors in VDB,
embeddings from the LLM service."""
