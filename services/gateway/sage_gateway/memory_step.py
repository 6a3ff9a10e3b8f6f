"""Long-term memory of a session through the Memory service (``sage.memory.v1.MemoryService``).

Written against the SDK's ``MemoryClient`` (``search_memories``, ``store_memory``). The client
is created on first use, so a gateway whose sessions never ask for memory needs no Memory
service; one that does, without the service or its SDK, gets a clear error.
"""
from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from typing import Any

from sage_gateway.errors import GatewayError


class MemoryAccess:
    def __init__(self, address: str | None = None) -> None:
        self._address = address
        self._client: Any = None
        self._lock = threading.Lock()

    def _memory(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    module = importlib.import_module("sage_client.memory")
                except ImportError:
                    raise GatewayError(400, "memory was asked for, but this installation has no Memory service "
                                       "client (sage_client.memory); send `memory: false`", "invalid_request_error",
                                       param="memory", code="memory_unavailable") from None
                self._client = module.MemoryClient(address=self._address)
            return self._client

    def search(self, session_id: str, query: str, top_k: int) -> list[str]:
        hits = self._memory().search_memories(query, session_id=session_id, top_k=top_k)
        return [hit["content"] for hit in hits]

    def store(self, session_id: str, messages: Sequence[dict[str, str]]) -> None:
        memory = self._memory()
        for message in messages:
            if message["content"]:
                memory.store_memory(session_id, message["content"], {"role": message["role"]})

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
