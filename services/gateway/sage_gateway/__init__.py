"""The OpenAI-compatible HTTP gateway of SAGE Mesh (an ASGI app behind Envoy)."""
