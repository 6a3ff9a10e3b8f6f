"""ReActAgent: a MapFunction that answers a question by alternating thoughts and tool calls.

The model is told the tools (JSON schema) and the format::

    Thought: ...
    Action: <tool name>
    Action Input: {"arg": value}

after which the agent runs the tool and replies ``Observation: <result or error>``; the model
ends with ``Final Answer: ...``. Tool errors and replies the agent cannot parse go back to the
model as observations, so it can correct itself; ``max_steps`` bounds the loop.
"""

from __future__ import annotations

import inspect
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from sage_client.dataflow.api.functions import MapFunction
from sage_client.rag.agents.tools import ToolError, ToolRegistry
from sage_client.rag.records import Record, add_timing, as_record

Messages = list[dict[str, str]]

SYSTEM_PROMPT = """You answer the question by using tools when needed. Available tools:
{tools}

Use exactly this format:
Thought: what to do next
Action: one tool name from the list
Action Input: the arguments as a JSON object

You will get the tool result as "Observation: ...". Repeat as needed; when you know the answer write:
Final Answer: the answer"""

_FINAL = re.compile(r"Final Answer\s*:\s*(.*)", re.DOTALL | re.IGNORECASE)
_ACTION = re.compile(r"Action\s*:\s*([\w.\-]+)\s*(?:\n|$)", re.IGNORECASE)
_ACTION_INPUT = re.compile(r"Action Input\s*:\s*(.*)", re.DOTALL | re.IGNORECASE)


def _json_object_prefix(text: str) -> Any:
    """The first JSON value at the start of ``text`` (models often add words after it)."""
    text = text.strip()
    if not text:
        return {}
    value, _ = json.JSONDecoder().raw_decode(text)
    return value


def parse_step(reply: str) -> tuple[str, Any]:
    """``("final", answer)``, ``("action", (tool, arguments))`` or ``("invalid", reason)``."""
    reply = reply.split("Observation:", 1)[0]
    action = _ACTION.search(reply)
    final = _FINAL.search(reply)
    if final and (not action or final.start() < action.start()):
        return "final", final.group(1).strip()
    if not action:
        return (
            "invalid",
            'write "Action: <tool>" with "Action Input: {...}", or "Final Answer: ..."',
        )
    raw_input = _ACTION_INPUT.search(reply, action.end())
    if raw_input is None:
        return (
            "invalid",
            f'after "Action: {action.group(1)}" write "Action Input: " and a JSON object',
        )
    try:
        arguments = _json_object_prefix(raw_input.group(1))
    except json.JSONDecodeError as e:
        return (
            "invalid",
            f'Action Input is not valid JSON ({e.msg}); write a JSON object such as {{"expression": "2+2"}}',
        )
    return "action", (action.group(1), arguments)


def _as_chat(llm: Any) -> Callable[[Messages], str]:
    if hasattr(llm, "generate"):
        # Stop at "Observation:" so the model cannot invent a tool's result (when supported).
        params = set(inspect.signature(llm.generate).parameters)
        if "overrides" in params or "stop" in params:
            return lambda messages: str(llm.generate(messages, stop=["Observation:"])["text"])
        return lambda messages: str(llm.generate(messages)["text"])
    if callable(llm):
        return lambda messages: str(llm(messages))
    raise TypeError(
        "llm must be a callable messages -> text or a generator with generate(messages)"
    )


class ReActAgent(MapFunction):
    """Config: ``llm`` (a SageLLMGenerator/OpenAIGenerator or a callable messages -> text),
    ``tools`` (a ToolRegistry or a list of typed functions), ``max_steps`` (5).

    Output record: ``answer`` (None when the step limit was hit), ``steps`` (each
    ``{"reply", "action", "arguments", "observation"}``), ``stopped`` (``"final_answer"`` or
    ``"step_limit"``)."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = {**(config or {}), **kwargs}
        if cfg.get("llm") is None:
            raise ValueError("ReActAgent needs 'llm'")
        self._chat = _as_chat(cfg["llm"])
        tools = cfg.get("tools") or ToolRegistry()
        if not isinstance(tools, ToolRegistry):
            registry = ToolRegistry()
            for fn in tools:
                registry.register(fn)
            tools = registry
        self.tools: ToolRegistry = tools
        self.max_steps = int(cfg.get("max_steps", 5))
        if self.max_steps <= 0:
            raise ValueError(f"max_steps must be positive, got {self.max_steps}")

    def run(self, question: str) -> dict[str, Any]:
        messages: Messages = [
            {"role": "system", "content": SYSTEM_PROMPT.format(tools=self.tools.describe())},
            {"role": "user", "content": f"Question: {question}"},
        ]
        steps: list[dict[str, Any]] = []
        for _ in range(self.max_steps):
            reply = self._chat(messages).split("Observation:", 1)[0].strip()
            kind, payload = parse_step(reply)
            if kind == "final":
                steps.append({"reply": reply})
                return {"answer": payload, "steps": steps, "stopped": "final_answer"}
            if kind == "action":
                name, arguments = payload
                try:
                    observation = _render(self.tools.call(name, arguments))
                except ToolError as e:
                    observation = f"Error: {e}"
                steps.append(
                    {
                        "reply": reply,
                        "action": name,
                        "arguments": arguments,
                        "observation": observation,
                    }
                )
            else:
                observation = f"Error: {payload}"
                steps.append({"reply": reply, "observation": observation})
            messages.append({"role": "assistant", "content": reply})
            messages.append({"role": "user", "content": f"Observation: {observation}"})
        return {"answer": None, "steps": steps, "stopped": "step_limit"}

    def execute(self, data: Any) -> Record:
        record = as_record(data)
        t0 = time.perf_counter()
        record.update(self.run(record["query"]))
        add_timing(record, "agent", time.perf_counter() - t0)
        return record


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return str(value)
