"""Sampling parameters: one validated dataclass shared by every engine and the servicer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sage_llm.errors import InvalidParameterError

MAX_STOP_SEQUENCES = 16


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens. ``temperature == 0`` means greedy (deterministic) decoding.

    ``max_tokens`` caps the generated tokens; ``stop`` sequences end generation and are not
    part of the returned text; ``seed`` makes sampling reproducible per request.
    Penalties follow their usual meaning: ``repetition_penalty`` divides the logits of seen tokens
    (1.0 = off, as in Hugging Face), ``presence_penalty`` / ``frequency_penalty`` subtract from them
    (0.0 = off, as in OpenAI).
    """

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 256
    stop: tuple[str, ...] = field(default_factory=tuple)
    seed: int | None = None
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0

    def __post_init__(self) -> None:
        # Frozen dataclass: normalise a list of stops into a tuple once.
        if not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))
        self.validate()

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @property
    def uses_penalties(self) -> bool:
        return (
            self.repetition_penalty != 1.0
            or self.presence_penalty != 0.0
            or self.frequency_penalty != 0.0
        )

    def validate(self) -> None:
        """Raise :class:`InvalidParameterError` naming the first field out of range."""
        _finite("temperature", self.temperature)
        if self.temperature < 0.0 or self.temperature > 2.0:
            _bad("temperature", f"must be between 0 and 2, got {self.temperature}")
        _finite("top_p", self.top_p)
        if not 0.0 < self.top_p <= 1.0:
            _bad("top_p", f"must be in (0, 1], got {self.top_p}")
        if not isinstance(self.top_k, int) or self.top_k < 0:
            _bad("top_k", f"must be an integer >= 0 (0 = off), got {self.top_k!r}")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            _bad("max_tokens", f"must be an integer >= 1, got {self.max_tokens!r}")
        if len(self.stop) > MAX_STOP_SEQUENCES:
            _bad("stop", f"at most {MAX_STOP_SEQUENCES} stop sequences, got {len(self.stop)}")
        for s in self.stop:
            if not isinstance(s, str) or s == "":
                _bad("stop", f"stop sequences must be non-empty strings, got {s!r}")
        if self.seed is not None and (not isinstance(self.seed, int) or self.seed < 0):
            _bad("seed", f"must be an integer >= 0, got {self.seed!r}")
        _finite("repetition_penalty", self.repetition_penalty)
        if not 0.0 < self.repetition_penalty <= 10.0:
            _bad("repetition_penalty", f"must be in (0, 10], got {self.repetition_penalty}")
        for name in ("presence_penalty", "frequency_penalty"):
            value = getattr(self, name)
            _finite(name, value)
            if not -2.0 <= value <= 2.0:
                _bad(name, f"must be between -2 and 2, got {value}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SamplingParams:
        """Build from a plain dict, rejecting unknown keys by name (typos must not pass silently)."""
        known = set(cls.__dataclass_fields__)
        for key in values:
            if key not in known:
                _bad(key, f"unknown sampling parameter; known: {sorted(known)}")
        return cls(**values)


def _finite(name: str, value: Any) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        _bad(name, f"must be a finite number, got {value!r}")


def _bad(name: str, message: str) -> None:
    raise InvalidParameterError(name, message)
