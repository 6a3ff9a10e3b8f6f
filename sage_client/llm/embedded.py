"""Finds the in-process LLM through the ``sage_mesh.embedded`` entry point.

The SDK never imports server code: the ``llm`` extra installs ``sage_llm``, which declares the
entry point; without it, a clear error says what to install.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "sage_mesh.embedded"


class EmbeddedEngineMissing(RuntimeError):
    pass


def load_embedded_llm(config: Mapping[str, Any]) -> Any:
    """Return the in-process LLM object built from ``config`` by the ``llm`` entry point."""
    found = entry_points(group=ENTRY_POINT_GROUP, name="llm")
    if not found:
        raise EmbeddedEngineMissing(
            "no in-process LLM engine is installed (entry point 'sage_mesh.embedded:llm'); "
            'install it with: pip install "sage-mesh[llm]" — or point the generator at a mesh'
        )
    factory = next(iter(found)).load()
    return factory(dict(config))
