"""Long-term memory of a session through the Memory service (``sage.memory.v1.MemoryService``).

Written against the SDK's ``AsyncMemoryClient`` (``search_memories``, ``store_memory``), awaited
on the event loop that serves the request. The client is created on first use, so a gateway whose sessions never ask for memory needs no Memory
service; one that does, without the service or its SDK, gets a clear error.

Memories are scoped by owner: the Memory service's session id is ``<owner>/<session id>`` (the
same key as the gateway session's), so two keys using one session id never share memories,
and deleting a gateway session deletes exactly its memories.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from sage_gateway.errors import GatewayError
from sage_gateway.sessions import session_key


def memory_session(owner: str, session_id: str) -> str:
    """The Memory service session id of ``owner``'s gateway session ``session_id``."""
    return session_key(owner, session_id)


class MemoryAccess:
    def __init__(self, address: str | None = None) -> None:
        self._address = address
        self._client: Any = None

    def _memory(self) -> Any:
        if self._client is None:  # on the serving loop: no other caller can interleave here
            try:
                module = importlib.import_module("sage_client.memory")
            except ImportError:
                raise GatewayError(
                    400,
                    "memory was asked for, but this installation has no Memory service "
                    "client (sage_client.memory); send `memory: false`",
                    "invalid_request_error",
                    param="memory",
                    code="memory_unavailable",
                ) from None
            self._client = module.AsyncMemoryClient(address=self._address)
        return self._client

    async def search(self, owner: str, session_id: str, query: str, top_k: int) -> list[str]:
        if not owner or not session_id:  # never an all-sessions search
            raise ValueError("a memory search needs an owner and a session id")
        hits = await self._memory().search_memories(
            query, session_id=memory_session(owner, session_id), top_k=top_k
        )
        return [hit["content"] for hit in hits]

    async def store(self, owner: str, session_id: str, messages: Sequence[dict[str, str]]) -> None:
        memory = self._memory()
        scoped = memory_session(owner, session_id)
        for message in messages:
            if message["content"]:
                await memory.store_memory(scoped, message["content"], {"role": message["role"]})

    async def delete_session(self, owner: str, session_id: str) -> int:
        """Delete the memories of ``owner``'s session ``session_id``; how many were deleted."""
        return int(await self._memory().delete_session(memory_session(owner, session_id)))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
