"""Render a model's Jinja chat template (the GGUF's ``tokenizer.chat_template``) as Hugging Face does.

Same environment as ``transformers``' ``apply_chat_template``: a sandbox, ``trim_blocks`` and
``lstrip_blocks``, the ``loopcontrols`` extension, a ``tojson`` that keeps non-ASCII text,
``raise_exception`` and ``strftime_now``, and the tokenizer's special tokens as variables. So the
same messages give the same prompt whichever engine serves the model.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sage_llm.engines.base import ChatMessage
from sage_llm.errors import InvalidParameterError


class _TemplateError(Exception):
    pass


def _raise(message: str) -> None:
    raise _TemplateError(message)


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)


@functools.lru_cache(maxsize=8)
def _compile(source: str) -> Any:
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(source)


def render_chat(
    template: str, messages: Sequence[ChatMessage], special_tokens: dict[str, str]
) -> str:
    """The prompt for ``messages``, ending where the assistant speaks."""
    turns = [{"role": m.role, "content": m.content} for m in messages]
    try:
        return str(
            _compile(template).render(messages=turns, add_generation_prompt=True, **special_tokens)
        )
    except _TemplateError as exc:  # the template refuses these messages (e.g. role order)
        raise InvalidParameterError(
            "messages", f"the model's chat template refused: {exc}"
        ) from None


def plain_transcript(messages: Sequence[ChatMessage]) -> str:
    """For a base model without a template: a transcript that ends on the assistant's turn."""
    return "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant:"
