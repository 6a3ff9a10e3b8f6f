"""Every chat and completion request runs through one long-lived DataStream pipeline:

    requests -> load history -> retrieve memories -> build prompt -> stream from the LLM -> store the turn

The pipeline is built once at start (building a job per request costs milliseconds) with
``pipeline_workers`` parallel instances. The source and every step have the same parallelism,
so the kernel chains them into one task per instance; each instance takes the next request
from one shared queue only when it is free, so a long generation never holds up a short one.
Steps block on the mesh's gRPC services in their own thread; tokens reach the request's
asyncio queue as soon as they are decoded (``Turn.emit``), and a client that goes away sets
``Turn.cancelled``, which closes the LLM stream and so stops decoding upstream.
"""
from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sage_client import LocalEnvironment, MapFunction, SinkFunction, SourceFunction
from sage_client.discovery import default_resolver
from sage_client.errors import DeadlineExceeded, SageError, Unavailable
from sage_client.llm import LLMClient
from sage_gateway.errors import GatewayError, from_sage_error
from sage_gateway.memory_step import MemoryAccess
from sage_gateway.sessions import SessionWriter

Event = tuple[str, Any]  # ("delta", text) | ("done", Turn) | ("error", GatewayError)
_LLM_ATTEMPTS = 3  # instances tried when one is down before it produced a token
_QUEUES: dict[str, queue.Queue[Turn]] = {}  # pipeline id -> its request queue (sources look it up)


@dataclass
class Turn:
    """One request on its way through the pipeline."""

    owner: str
    model: str
    sampling: dict[str, Any]
    emit: Callable[[Event], None]
    messages: list[dict[str, str]] = field(default_factory=list)  # chat
    prompt: str | None = None  # plain completion
    stream: bool = True  # False: one unary call, the text arrives whole (fewer thread hops)
    session_id: str | None = None
    memory: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))
    cancelled: threading.Event = field(default_factory=threading.Event)
    # filled in by the steps
    session_memory: bool = False
    history: list[dict[str, str]] = field(default_factory=list)
    memories: list[str] = field(default_factory=list)
    llm_messages: list[dict[str, str]] = field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    served_model: str = ""
    error: GatewayError | None = None

    @property
    def active(self) -> bool:
        return self.error is None and not self.cancelled.is_set()


@dataclass
class ChatResources:
    """The clients the steps share (thread-safe)."""

    llm: LLMClient
    sessions: SessionWriter
    memory: MemoryAccess
    history_turns: int
    memory_top_k: int
    llm_timeout_s: float


class TurnSource(SourceFunction):
    def __init__(self, pipeline_id: str) -> None:
        super().__init__()
        self._queue = _QUEUES[pipeline_id]

    def execute(self, data: Any = None) -> Turn | None:
        try:
            return self._queue.get(timeout=0.05)
        except queue.Empty:
            return None


class ChatStep(MapFunction):
    """A step that is skipped for a failed or cancelled turn and records its own failure on
    the turn (so one bad request never fails the long-lived job)."""

    def __init__(self, resources: ChatResources) -> None:
        super().__init__()
        self.res = resources

    def execute(self, turn: Turn) -> Turn:
        if turn.active:
            try:
                self.step(turn)
            except GatewayError as exc:
                turn.error = exc
            except SageError as exc:
                turn.error = from_sage_error(exc)
            except Exception as exc:  # noqa: BLE001 - reported to this request's client, job goes on
                turn.error = GatewayError(500, f"{type(self).__name__} failed: {exc}", "server_error")
        return turn

    def step(self, turn: Turn) -> None:
        raise NotImplementedError


class LoadHistory(ChatStep):
    def step(self, turn: Turn) -> None:
        if turn.session_id is None:
            return
        session = self.res.sessions.load(turn.owner, turn.session_id)
        if session is not None:
            turn.history = session.history[-self.res.history_turns:] if self.res.history_turns else []
            turn.session_memory = session.memory
        turn.memory = turn.memory or turn.session_memory


class RetrieveMemories(ChatStep):
    def step(self, turn: Turn) -> None:
        if not (turn.memory and turn.session_id and turn.messages):
            return
        query = next((m["content"] for m in reversed(turn.messages) if m["role"] == "user"), "")
        if query:
            turn.memories = self.res.memory.search(turn.owner, turn.session_id, query, self.res.memory_top_k)


class BuildPrompt(ChatStep):
    def step(self, turn: Turn) -> None:
        if turn.prompt is not None:
            return
        system = [m for m in turn.messages if m["role"] in ("system", "developer")]
        rest = [m for m in turn.messages if m["role"] not in ("system", "developer")]
        recalled = []
        if turn.memories:
            recalled = [{"role": "system", "content": "Relevant memories of this conversation:\n"
                         + "\n".join(f"- {m}" for m in turn.memories)}]
        turn.llm_messages = [*system, *recalled, *turn.history, *rest]


class StreamFromLLM(ChatStep):
    def step(self, turn: Turn) -> None:
        prompt: Any = turn.prompt if turn.prompt is not None else turn.llm_messages
        try:
            if turn.stream:
                self._streamed(turn, prompt)
            else:
                self._whole(turn, prompt)
        except DeadlineExceeded:
            raise GatewayError(504, f"the LLM did not finish within the gateway's limit of {self.res.llm_timeout_s:g} s "
                               "per generation (SAGE_LLM_TIMEOUT_S); ask for fewer tokens (max_tokens) or raise "
                               "the limit", "server_error", code="upstream_timeout") from None

    def _streamed(self, turn: Turn, prompt: Any) -> None:
        for attempt in range(_LLM_ATTEMPTS):
            produced = False
            stream: Any = self.res.llm.stream_deltas(prompt, model=turn.model, timeout=self.res.llm_timeout_s,
                                                **turn.sampling)
            try:
                for delta in stream:
                    if turn.cancelled.is_set():
                        return  # closing the stream (finally) cancels the call: decoding stops upstream
                    if delta["text"]:
                        produced = True
                        turn.text += delta["text"]
                        turn.emit(("delta", delta["text"]))
                    if delta["finish_reason"]:
                        turn.finish_reason = delta["finish_reason"]
                        turn.usage = delta["usage"] or {}
                        turn.served_model = delta["model"]
                return
            except Unavailable as exc:
                if not produced and turn.model and not _model_served(turn.model):
                    raise GatewayError(404, f"model {turn.model!r} is not served by any LLM instance; "
                                       "GET /v1/models lists the models", param="model",
                                       code="model_not_found") from None
                # An instance that died before answering: another one can serve the request.
                # One that died mid-answer cannot be resumed; the client gets a 503.
                if produced:
                    raise _lost_mid_answer(exc) from None
                if attempt == _LLM_ATTEMPTS - 1:
                    raise
            finally:
                stream.close()


    def _whole(self, turn: Turn, prompt: Any) -> None:
        llm, timeout = self.res.llm, self.res.llm_timeout_s
        for attempt in range(_LLM_ATTEMPTS):
            try:
                if isinstance(prompt, str):
                    reply = llm.generate(prompt, model=turn.model, timeout=timeout, **turn.sampling)
                else:
                    reply = llm.chat(prompt, model=turn.model, timeout=timeout, **turn.sampling)
                break
            except Unavailable as exc:
                if turn.model and not _model_served(turn.model):
                    raise GatewayError(404, f"model {turn.model!r} is not served by any LLM instance; "
                                       "GET /v1/models lists the models", param="model",
                                       code="model_not_found") from None
                # Retry only an instance that was never reached; one that died while generating
                # may have done part of the work, and the client is told (503) instead.
                if "connect" not in exc.message.lower():
                    raise _lost_mid_answer(exc) from None
                if attempt == _LLM_ATTEMPTS - 1:
                    raise
        turn.text, turn.finish_reason = reply["text"], reply["finish_reason"]
        turn.usage, turn.served_model = reply["usage"], reply["model"]


def _lost_mid_answer(exc: SageError) -> GatewayError:
    return GatewayError(503, f"the LLM instance serving this request failed while answering ({exc.message}); "
                        "retry: another instance will serve it", "server_error", code="upstream_unavailable")


def _model_served(model: str) -> bool:
    """Whether some registered LLM instance names ``model`` (or publishes no model list)."""
    try:
        instances = default_resolver().instances("llm")
    except Exception:  # noqa: BLE001 - discovery failing is the Unavailable the caller reports
        return True
    if not instances:
        return True  # no LLM at all: a 503, not a wrong model name
    return any(not i.metadata or "models" not in i.metadata or model in i.metadata["models"] for i in instances)


class StoreTurn(SinkFunction):
    """Persists the turn (session history, memories), then tells the client it is done."""

    def __init__(self, resources: ChatResources) -> None:
        super().__init__()
        self.res = resources

    def execute(self, turn: Turn) -> None:
        if turn.active and turn.session_id is not None:
            try:
                new = [*[m for m in turn.messages if m["role"] not in ("system", "developer")],
                       {"role": "assistant", "content": turn.text}]
                self.res.sessions.append(turn.owner, turn.session_id, new, turn.memory)
                if turn.memory:
                    self.res.memory.store(turn.owner, turn.session_id, new)
            except SageError as exc:
                turn.error = from_sage_error(exc)
            except Exception as exc:  # noqa: BLE001
                turn.error = GatewayError(500, f"storing the turn failed: {exc}", "server_error")
        if turn.cancelled.is_set():
            return
        turn.emit(("error", turn.error) if turn.error is not None else ("done", turn))


class ChatPipeline:
    def __init__(self, resources: ChatResources, workers: int) -> None:
        self.id = uuid.uuid4().hex
        self._queue: queue.Queue[Turn] = queue.Queue()
        _QUEUES[self.id] = self._queue
        # batch_size 1 and no linger: a request is a unit of work, never held back to batch
        self._env = LocalEnvironment(f"gateway-chat-{self.id[:8]}",
                                     config={"runtime": {"batch_size": 1, "linger_ms": 0, "channel_capacity": 4}})
        (self._env.from_source(TurnSource, self.id, parallelism=workers)
            .map(LoadHistory, resources, parallelism=workers)
            .map(RetrieveMemories, resources, parallelism=workers)
            .map(BuildPrompt, resources, parallelism=workers)
            .map(StreamFromLLM, resources, parallelism=workers)
            .sink(StoreTurn, resources, parallelism=workers))
        self._job: Any = None

    def start(self) -> None:
        self._job = self._env.submit(autostop=False)

    def submit(self, turn: Turn) -> None:
        self._queue.put(turn)

    def stop(self) -> None:
        self._env.stop()
        try:
            self._env.close()
        finally:
            _QUEUES.pop(self.id, None)
