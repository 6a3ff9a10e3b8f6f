"""Built-in tools: a calculator, a key-value lookup and a vector-store search.

The calculator evaluates arithmetic by walking the expression's syntax tree (numbers and
+ - * / // % ** with parentheses only), never ``eval``, so model output cannot run code.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from sage_client.rag.agents.tools import ToolError

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_MAX_EXPONENT = 1000


def _evaluate(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ToolError(f"exponent {right} is too large (at most {_MAX_EXPONENT})")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    raise ToolError(
        f"calculator accepts numbers, + - * / // % ** and parentheses; not {ast.unparse(node)!r}"
    )


def calculator(expression: str) -> float | int:
    """Evaluate an arithmetic expression, e.g. "(3 + 4) * 2"."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as e:
        raise ToolError(f"cannot parse {expression!r}: {e.msg}") from e
    try:
        return _evaluate(tree)
    except ZeroDivisionError as e:
        raise ToolError("division by zero") from e


def make_kv_lookup(store: Mapping[str, Any] | Any) -> Callable[[str], str]:
    """A ``kv_lookup(key)`` tool over a dict or a ``KVClient`` (anything with ``get``)."""

    def kv_lookup(key: str) -> str:
        """Look up the value stored under a key."""
        value = store.get(key)
        if value is None:
            raise ToolError(f"no value is stored under {key!r}")
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    return kv_lookup


def make_vdb_search(
    collection: Any, embedder: Any, top_k: int = 3
) -> Callable[[str], list[dict[str, Any]]]:
    """A ``vdb_search(query)`` tool: the best chunks of a collection for a query, with sources."""
    from sage_client.rag.retrievers import hits_to_results

    def vdb_search(query: str) -> list[dict[str, Any]]:
        """Search the document store; returns the most relevant passages with their sources."""
        hits = collection.search(embedder.embed([query]), k=top_k)
        return [{"source": r["source"], "text": r["text"][:400]} for r in hits_to_results(hits)]

    return vdb_search
