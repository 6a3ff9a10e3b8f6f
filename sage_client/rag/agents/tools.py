"""Tools for agents: Python functions with typed signatures, described to the model as JSON schema.

``ToolRegistry.register(fn)`` (or ``@registry.tool``) reads the signature: each parameter needs a
type hint among str, int, float, bool, list[...] and dict; the first docstring line becomes the
description. ``call(name, arguments)`` validates the arguments against the signature and raises
``ToolError`` with a message meant for the model when they do not fit.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
}


class ToolError(Exception):
    """A tool call that failed; its message is shown to the model as the observation."""


def _schema_for(annotation: Any, where: str) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return {"type": "array", "items": _schema_for(args[0], where) if args else {}}
    if origin in (dict, Mapping):
        return {"type": "object"}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return _schema_for(options[0], where)
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    raise TypeError(
        f"{where}: type {annotation!r} cannot be described as JSON schema; use str, int, float, bool, list or dict"
    )


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]

    def schema(self) -> dict[str, Any]:
        """OpenAI's function-tool shape."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def tool_from_function(
    fn: Callable[..., Any], name: str | None = None, description: str | None = None
) -> Tool:
    tool_name = name or fn.__name__
    hints = typing.get_type_hints(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(
                f"tool {tool_name}: *args/**kwargs cannot be described; name each parameter"
            )
        if param.name not in hints:
            raise TypeError(f"tool {tool_name}: parameter {param.name!r} needs a type hint")
        properties[param.name] = _schema_for(
            hints[param.name], f"tool {tool_name}, parameter {param.name}"
        )
        if param.default is param.empty:
            required.append(param.name)
    doc = description or (inspect.getdoc(fn) or tool_name).strip().splitlines()[0]
    parameters = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return Tool(tool_name, doc, parameters, fn)


def _check_value(value: Any, schema: Mapping[str, Any], where: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ToolError(f"{where} must be an integer, got {json.dumps(value)}")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ToolError(f"{where} must be a number, got {json.dumps(value)}")
    elif kind == "string" and not isinstance(value, str):
        raise ToolError(f"{where} must be a string, got {json.dumps(value)}")
    elif kind == "boolean" and not isinstance(value, bool):
        raise ToolError(f"{where} must be true or false, got {json.dumps(value)}")
    elif kind == "array":
        if not isinstance(value, list):
            raise ToolError(f"{where} must be a list, got {json.dumps(value)}")
        return [
            _check_value(v, schema.get("items", {}), f"{where}[{i}]") for i, v in enumerate(value)
        ]
    elif kind == "object" and not isinstance(value, dict):
        raise ToolError(f"{where} must be an object, got {json.dumps(value)}")
    return value


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(
        self, fn: Callable[..., Any], name: str | None = None, description: str | None = None
    ) -> Tool:
        tool = tool_from_function(fn, name, description)
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def tool(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator form of ``register``."""
        self.register(fn)
        return fn

    def names(self) -> list[str]:
        return sorted(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [self._tools[n].schema() for n in self.names()]

    def describe(self) -> str:
        """One line per tool: name, description and its JSON schema (what the model reads)."""
        return "\n".join(
            f"- {t.name}: {t.description} Arguments (JSON schema): {json.dumps(t.parameters['properties'])}"
            for t in (self._tools[n] for n in self.names())
        )

    def call(self, name: str, arguments: Mapping[str, Any]) -> Any:
        tool = self._tools.get(name)
        if tool is None:
            raise ToolError(f"unknown tool {name!r}; available tools: {', '.join(self.names())}")
        if not isinstance(arguments, Mapping):
            raise ToolError(
                f"arguments to {name} must be a JSON object, got {json.dumps(arguments)}"
            )
        props = tool.parameters["properties"]
        extra = set(arguments) - set(props)
        if extra:
            raise ToolError(
                f"{name} takes no argument(s) {sorted(extra)}; it takes {sorted(props)}"
            )
        missing = [p for p in tool.parameters["required"] if p not in arguments]
        if missing:
            raise ToolError(f"{name} needs argument(s) {missing}")
        checked = {k: _check_value(v, props[k], f"{name}.{k}") for k, v in arguments.items()}
        try:
            return tool.function(**checked)
        except ToolError:
            raise
        except Exception as e:  # the model sees what went wrong and may try again
            raise ToolError(f"{name} failed: {type(e).__name__}: {e}") from e
