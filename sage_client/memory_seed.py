"""``self.call_service("memory_service")`` from pipeline functions: the memory service's client
when a mesh is configured (``SAGE_ETCD_ENDPOINTS`` or ``SAGE_MEMORY_ADDR``), else ``LocalMemory``
in this process. Both answer ``store_memory``, ``search_memories``, ``get_memory``, ...

    memory = self.call_service("memory_service")
    memory.store_memory("chat-1", "Alice likes green tea")
    memory.search_memories("what does Alice drink?", session_id="chat-1", top_k=3)
"""

from __future__ import annotations

from sage_client.memory import MemoryClient
from sage_client.memory_local import LocalMemory
from sage_client.services import SEED_SERVICES


class MeshMemoryService(MemoryClient):
    """The memory service's client; gRPC channels are safe to share between threads."""

    thread_safe = True

    def process(self) -> MeshMemoryService:
        # call_service("memory_service") with no method calls process(): hand back the service.
        return self


class LocalMemoryService(LocalMemory):
    def process(self) -> LocalMemoryService:
        return self


SEED_SERVICES["memory_service"] = ("memory", LocalMemoryService, MeshMemoryService)
