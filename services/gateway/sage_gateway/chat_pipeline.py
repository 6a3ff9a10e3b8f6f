"""Every chat and completion request is one coroutine, on the event loop that serves it:

    load history -> retrieve memories -> retrieve sources -> build prompt -> stream from the LLM
    -> store the turn

``ChatPipeline.run(turn)`` runs the steps in that order and yields the generated text as the
LLM streams it, straight into the response; when the iteration ends, the turn is stored.
Each step is a small function of its own; a step's failure is a ``GatewayError`` (mesh errors
translated, anything else a 500 naming the step). At most ``max_concurrent`` turns generate at
once on this instance (``max_concurrent_chats``); more wait for a slot, in arrival order.
A client that goes away cancels the request's task, which cancels the LLM call and so stops
decoding upstream. Retries are the SDK's one policy (``sage_client.channels``, which
``AsyncLLMClient`` follows: another instance for a generation that failed before its first token
or never reached an instance), not a step's.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field
from typing import Any

from sage_client.channels import never_reached
from sage_client.discovery import default_resolver
from sage_client.errors import DeadlineExceeded, SageError, Unavailable
from sage_client.llm import AsyncLLMClient
from sage_gateway.errors import GatewayError, from_sage_error
from sage_gateway.memory_step import MemoryAccess
from sage_gateway.rag_step import Retriever, sources_prompt
from sage_gateway.sessions import SessionIndex


@dataclass
class Turn:
    """One request on its way through the steps."""

    owner: str
    model: str
    sampling: dict[str, Any]
    messages: list[dict[str, str]] = field(default_factory=list)  # chat
    prompt: str | None = None  # plain completion
    stream: bool = True  # False: one unary call, the text arrives whole
    session_id: str | None = None
    memory: bool = False
    rag_collection: str | None = None  # a collection the gateway offers (checked on admission)
    rag_top_k: int = 4
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))
    # filled in by the steps
    session_memory: bool = False
    history: list[dict[str, str]] = field(default_factory=list)
    memories: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)  # the RAG hits, for the reply
    llm_messages: list[dict[str, str]] = field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    served_model: str = ""


@dataclass
class ChatResources:
    """The clients the steps share (async, of the serving event loop)."""

    llm: AsyncLLMClient
    sessions: SessionIndex
    memory: MemoryAccess
    retriever: Retriever
    history_turns: int
    memory_top_k: int
    llm_timeout_s: float


@contextmanager
def step_errors(step: str) -> Iterator[None]:
    """A step's failure as what the client is told (the request fails, nothing else does)."""
    try:
        yield
    except GatewayError:
        raise
    except SageError as exc:
        raise from_sage_error(exc) from None
    except Exception as exc:  # noqa: BLE001 - reported to this request's client
        raise GatewayError(500, f"{step} failed: {exc}", "server_error") from None


# -- the steps --------------------------------------------------------------------------------
async def load_history(turn: Turn, res: ChatResources) -> None:
    if turn.session_id is None:
        return
    session = await res.sessions.load(turn.owner, turn.session_id)
    if session is not None:
        turn.history = session.history[-res.history_turns :] if res.history_turns else []
        turn.session_memory = session.memory
    turn.memory = turn.memory or turn.session_memory


async def retrieve_memories(turn: Turn, res: ChatResources) -> None:
    if not (turn.memory and turn.session_id and turn.messages):
        return
    query = next((m["content"] for m in reversed(turn.messages) if m["role"] == "user"), "")
    if query:
        turn.memories = await res.memory.search(
            turn.owner, turn.session_id, query, res.memory_top_k
        )


async def retrieve_sources(turn: Turn, res: ChatResources) -> None:
    if not (turn.rag_collection and turn.messages):
        return
    query = next((m["content"] for m in reversed(turn.messages) if m["role"] == "user"), "")
    if query:
        turn.sources = await res.retriever.search(turn.rag_collection, query, turn.rag_top_k)


def build_prompt(turn: Turn) -> None:
    if turn.prompt is not None:
        return
    system = [m for m in turn.messages if m["role"] in ("system", "developer")]
    rest = [m for m in turn.messages if m["role"] not in ("system", "developer")]
    recalled = []
    if turn.memories:
        recalled = [
            {
                "role": "system",
                "content": "Relevant memories of this conversation:\n"
                + "\n".join(f"- {m}" for m in turn.memories),
            }
        ]
    if turn.sources:
        recalled.append({"role": "system", "content": sources_prompt(turn.sources)})
    turn.llm_messages = [*system, *recalled, *turn.history, *rest]


async def stream_from_llm(turn: Turn, res: ChatResources) -> AsyncGenerator[str, None]:
    """The generated text, piece by piece (one piece for a turn that is not streamed)."""
    prompt: Any = turn.prompt if turn.prompt is not None else turn.llm_messages
    try:
        if not turn.stream:
            generate = res.llm.generate if isinstance(prompt, str) else res.llm.chat
            reply = await generate(
                prompt, model=turn.model, timeout=res.llm_timeout_s, **turn.sampling
            )
            turn.text, turn.finish_reason = reply["text"], reply["finish_reason"]
            turn.usage, turn.served_model = reply["usage"], reply["model"]
            yield turn.text
            return
        async with aclosing(
            res.llm.stream_deltas(
                prompt, model=turn.model, timeout=res.llm_timeout_s, **turn.sampling
            )
        ) as deltas:
            async for delta in deltas:
                if delta["text"]:
                    turn.text += delta["text"]
                    yield delta["text"]
                if delta["finish_reason"]:
                    turn.finish_reason = delta["finish_reason"]
                    turn.usage = delta["usage"]
                    turn.served_model = delta["model"]
    except DeadlineExceeded:
        raise GatewayError(
            504,
            f"the LLM did not finish within the gateway's limit of {res.llm_timeout_s:g} s "
            "per generation (SAGE_LLM_TIMEOUT_S); ask for fewer tokens (max_tokens) or raise "
            "the limit",
            "server_error",
            code="upstream_timeout",
        ) from None
    except Unavailable as exc:
        if not turn.text and turn.model and not _model_served(turn.model):
            raise GatewayError(
                404,
                f"model {turn.model!r} is not served by any LLM instance; "
                "GET /v1/models lists the models",
                param="model",
                code="model_not_found",
            ) from None
        # An instance that died before answering was already replaced by the channel layer; one
        # that died mid-answer cannot be resumed (and a whole call that reached an instance may
        # have done part of the work): the client is told (503) instead.
        if turn.text if turn.stream else not never_reached(exc.message):
            raise _lost_mid_answer(exc) from None
        raise


async def store_turn(turn: Turn, res: ChatResources) -> None:
    """Persists the turn (session history, memories)."""
    if turn.session_id is None:
        return
    new = [
        *[m for m in turn.messages if m["role"] not in ("system", "developer")],
        {"role": "assistant", "content": turn.text},
    ]
    await res.sessions.append(turn.owner, turn.session_id, new, turn.memory)
    if turn.memory:
        await res.memory.store(turn.owner, turn.session_id, new)


def _lost_mid_answer(exc: SageError) -> GatewayError:
    return GatewayError(
        503,
        f"the LLM instance serving this request failed while answering ({exc.message}); "
        "retry: another instance will serve it",
        "server_error",
        code="upstream_unavailable",
    )


def _model_served(model: str) -> bool:
    """Whether some registered LLM instance names ``model`` (or publishes no model list)."""
    try:
        instances = default_resolver().instances("llm")
    except Exception:  # noqa: BLE001 - discovery failing is the Unavailable the caller reports
        return True
    if not instances:
        return True  # no LLM at all: a 503, not a wrong model name
    return any(
        not i.metadata or "models" not in i.metadata or model in i.metadata["models"]
        for i in instances
    )


# -- the pipeline -----------------------------------------------------------------------------
class ChatPipeline:
    def __init__(self, resources: ChatResources, max_concurrent: int) -> None:
        self.res = resources
        self.max_concurrent = max_concurrent
        self._slots = asyncio.Semaphore(max_concurrent)

    async def run(self, turn: Turn) -> AsyncGenerator[str, None]:
        """The turn's text as it is generated; once the iteration ends the turn is stored.
        Iterate it under ``contextlib.aclosing`` (a request cut short frees its slot at once)."""
        res = self.res
        async with self._slots:
            with step_errors("LoadHistory"):
                await load_history(turn, res)
            with step_errors("RetrieveMemories"):
                await retrieve_memories(turn, res)
            with step_errors("RetrieveSources"):
                await retrieve_sources(turn, res)
            with step_errors("BuildPrompt"):
                build_prompt(turn)
            with step_errors("StreamFromLLM"):
                async with aclosing(stream_from_llm(turn, res)) as pieces:
                    async for piece in pieces:
                        yield piece
            try:
                await store_turn(turn, res)
            except SageError as exc:
                raise from_sage_error(exc) from None
            except Exception as exc:  # noqa: BLE001
                raise GatewayError(500, f"storing the turn failed: {exc}", "server_error") from None
