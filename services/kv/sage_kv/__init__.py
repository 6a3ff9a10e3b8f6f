"""The SAGE Mesh KV service: namespaced, versioned values over memory or Redis."""
