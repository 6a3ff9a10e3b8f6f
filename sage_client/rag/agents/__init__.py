"""Agents: a ReAct operator over a registry of typed Python tools."""

from sage_client.rag.agents.builtin_tools import calculator, make_kv_lookup, make_vdb_search
from sage_client.rag.agents.react import ReActAgent, parse_step
from sage_client.rag.agents.tools import Tool, ToolError, ToolRegistry, tool_from_function

__all__ = [
    "ReActAgent",
    "Tool",
    "ToolError",
    "ToolRegistry",
    "calculator",
    "make_kv_lookup",
    "make_vdb_search",
    "parse_step",
    "tool_from_function",
]
