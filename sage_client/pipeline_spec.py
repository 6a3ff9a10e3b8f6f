"""Pipelines as data: a JSON/YAML spec of catalogue operators and the edges between them, built
into a DataStream graph. Studio's Builder saves this spec; ``sage pipeline run FILE`` runs it.

    {"name": "words",
     "operators": [
       {"id": "src", "op": "source.lines", "params": {"text": "a b\\nc"}},
       {"id": "split", "op": "flatmap.split_words"},
       {"id": "out", "op": "sink.collect"}],
     "edges": [{"from": "src", "to": "split"}, {"from": "split", "to": "out"}]}

A spec names operators from ``CATALOGUE`` only, with typed, bounded parameters: it never carries
code, so the job manager can run a spec from anyone allowed to submit jobs without running a
stranger's functions. Every operator but a source has exactly one input; sources have none.
``x``/``y`` on an operator are the Builder's canvas position, kept and ignored here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sage_client.dataflow import pipeline_ops as ops

MAX_OPERATORS = 64
MAX_TEXT = 1 << 20  # characters of an inline text source


class SpecError(ValueError):
    """A spec that cannot be built; the message names the operator and what to change."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "int", "float", "str", "text"
    default: Any
    help: str
    low: float | None = None
    high: float | None = None

    def check(self, where: str, value: Any) -> Any:
        if self.kind in ("int", "float"):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if self.kind == "int":
                ok = ok and float(value).is_integer()
            if not ok:
                raise SpecError(
                    f"{where}: {self.name} must be a{'n int' if self.kind == 'int' else ' number'}"
                )
            value = int(value) if self.kind == "int" else float(value)
            if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high
            ):
                raise SpecError(f"{where}: {self.name} must be in [{self.low}, {self.high}]")
            return value
        if not isinstance(value, str):
            raise SpecError(f"{where}: {self.name} must be a string")
        limit = MAX_TEXT if self.kind == "text" else 1024
        if len(value) > limit:
            raise SpecError(f"{where}: {self.name} is longer than {limit} characters")
        return value


@dataclass(frozen=True)
class OperatorKind:
    """One catalogue entry: its role (source, map, filter, flatmap, sink), its parameters and
    how it becomes a DataStream call."""

    name: str
    role: str
    help: str
    params: tuple[Param, ...] = ()
    make: Callable[..., Any] = field(default=lambda **kw: None, repr=False)

    def describe(self) -> dict[str, Any]:
        return {
            "op": self.name,
            "role": self.role,
            "help": self.help,
            "params": [
                {"name": p.name, "kind": p.kind, "default": p.default, "help": p.help}
                | ({"low": p.low, "high": p.high} if p.low is not None else {})
                for p in self.params
            ],
        }


def _kinds() -> dict[str, OperatorKind]:
    P = Param
    entries = [
        OperatorKind(
            "source.numbers",
            "source",
            "the integers start, start+1, ..., stop-1",
            (
                P("start", "int", 0, "first", -(2**53), 2**53),
                P("stop", "int", 10, "end (excluded)", -(2**53), 2**53),
            ),
            lambda start, stop: ops.numbers(start, stop),
        ),
        OperatorKind(
            "source.lines",
            "source",
            "each non-empty line of a text",
            (P("text", "text", "hello world\nstreams of tokens", "the text, inline"),),
            lambda text: ops.lines(text),
        ),
        OperatorKind("map.upper", "map", "the text in upper case", (), lambda: ops.upper),
        OperatorKind("map.lower", "map", "the text in lower case", (), lambda: ops.lower),
        OperatorKind("map.length", "map", "the length of the text", (), lambda: ops.length),
        OperatorKind(
            "map.multiply",
            "map",
            "the number times a factor",
            (P("factor", "float", 2.0, "the factor", -1e12, 1e12),),
            lambda factor: ops.Multiply(factor),
        ),
        OperatorKind(
            "map.add",
            "map",
            "the number plus an amount",
            (P("amount", "float", 1.0, "the amount", -1e12, 1e12),),
            lambda amount: ops.Add(amount),
        ),
        OperatorKind(
            "filter.greater_than",
            "filter",
            "numbers above a threshold",
            (P("threshold", "float", 0.0, "kept when above it", -1e12, 1e12),),
            lambda threshold: ops.GreaterThan(threshold),
        ),
        OperatorKind(
            "filter.contains",
            "filter",
            "texts that contain a string",
            (P("text", "str", "", "kept when it occurs (case-sensitive)"),),
            lambda text: ops.Contains(text),
        ),
        OperatorKind(
            "flatmap.split_words", "flatmap", "each word of the text", (), lambda: ops.split_words
        ),
        OperatorKind(
            "flatmap.chunk",
            "flatmap",
            "the text in chunks of at most size characters, overlapping",
            (
                P("size", "int", 200, "characters per chunk", 1, 100_000),
                P("overlap", "int", 0, "characters shared by neighbours", 0, 99_999),
            ),
            lambda size, overlap: ops.Chunk(size, overlap),
        ),
        OperatorKind(
            "sink.collect", "sink", "keep the records as the job's result", (), lambda: ops.collect
        ),
        OperatorKind(
            "sink.print", "sink", "print each record (the job's log)", (), lambda: ops.show
        ),
    ]
    return {k.name: k for k in entries}


CATALOGUE: dict[str, OperatorKind] = _kinds()


@dataclass
class Spec:
    name: str
    operators: list[dict[str, Any]]
    edges: list[tuple[str, str]]


def parse(data: Any) -> Spec:
    """Check a spec's shape and every operator's parameters; raises SpecError naming the part."""
    if not isinstance(data, Mapping):
        raise SpecError("a pipeline spec is an object with name, operators and edges")
    name = data.get("name", "pipeline")
    if not isinstance(name, str) or not 1 <= len(name) <= 128:
        raise SpecError("name must be a string of 1..128 characters")
    operators = data.get("operators")
    if not isinstance(operators, list) or not 1 <= len(operators) <= MAX_OPERATORS:
        raise SpecError(f"operators must be a list of 1..{MAX_OPERATORS} operators")
    seen: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(operators):
        if not isinstance(raw, Mapping):
            raise SpecError(f"operator #{i} must be an object")
        op_id, kind_name = raw.get("id"), raw.get("op")
        if not isinstance(op_id, str) or not 1 <= len(op_id) <= 64:
            raise SpecError(f"operator #{i}: id must be a string of 1..64 characters")
        if op_id in seen:
            raise SpecError(f"operator id {op_id!r} is used twice")
        kind = CATALOGUE.get(kind_name) if isinstance(kind_name, str) else None
        if kind is None:
            raise SpecError(
                f"operator {op_id!r}: unknown op {kind_name!r}; one of {', '.join(CATALOGUE)}"
            )
        params = raw.get("params", {}) or {}
        if not isinstance(params, Mapping):
            raise SpecError(f"operator {op_id!r}: params must be an object")
        known = {p.name: p for p in kind.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise SpecError(f"operator {op_id!r} ({kind.name}): unknown params {unknown}")
        checked = {
            p.name: p.check(f"operator {op_id!r}", params.get(p.name, p.default))
            for p in kind.params
        }
        seen[op_id] = {"id": op_id, "kind": kind, "params": checked}
    edges_raw = data.get("edges", [])
    if not isinstance(edges_raw, list):
        raise SpecError("edges must be a list of {from, to}")
    edges: list[tuple[str, str]] = []
    for e in edges_raw:
        if not isinstance(e, Mapping) or e.get("from") not in seen or e.get("to") not in seen:
            raise SpecError(f"edge {e!r}: from and to must name operators of this spec")
        edges.append((str(e["from"]), str(e["to"])))
    inputs: dict[str, list[str]] = {k: [] for k in seen}
    for src, dst in edges:
        inputs[dst].append(src)
    for op_id, op in seen.items():
        role, n = op["kind"].role, len(inputs[op_id])
        if role == "source" and n:
            raise SpecError(f"operator {op_id!r} is a source: it takes no input")
        if role != "source" and n != 1:
            raise SpecError(
                f"operator {op_id!r} ({op['kind'].name}) needs exactly one input, has {n}"
            )
        if role == "sink" and any(src == op_id for src, _ in edges):
            raise SpecError(f"operator {op_id!r} is a sink: nothing can follow it")
    spec = Spec(name, list(seen.values()), edges)
    list(_order(spec))  # refuses a cycle
    return spec


def _order(spec: Spec) -> Iterator[dict[str, Any]]:
    """Operators with their input before them (Kahn's order)."""
    by_id = {op["id"]: op for op in spec.operators}
    waiting = {op_id: 0 if by_id[op_id]["kind"].role == "source" else 1 for op_id in by_id}
    ready = [op_id for op_id, n in waiting.items() if n == 0]
    done = 0
    while ready:
        op_id = ready.pop(0)
        done += 1
        yield by_id[op_id]
        for src, dst in spec.edges:
            if src == op_id:
                waiting[dst] -= 1
                if waiting[dst] == 0:
                    ready.append(dst)
    if done != len(by_id):
        raise SpecError("the edges form a cycle: a pipeline spec is a DAG")


def build(spec: Spec, env: Any, collect: Callable[[Any], None] | None = None) -> Any:
    """Add the spec's operators to ``env`` (a LocalEnvironment or RemoteEnvironment); returns
    env. A stream feeding several operators fans out (each gets every record). ``collect``
    replaces ``sink.collect`` (a local run keeps the records; a job submitted with
    collect_result has the job manager keep them)."""
    streams: dict[str, Any] = {}
    inputs = {dst: src for src, dst in spec.edges}
    for op in _order(spec):
        kind: OperatorKind = op["kind"]
        made = kind.make(**op["params"])
        if kind.name == "sink.collect" and collect is not None:
            made = collect
        if kind.role == "source":
            streams[op["id"]] = env.from_batch(made)
            continue
        upstream = streams[inputs[op["id"]]]
        call = {"map": upstream.map, "filter": upstream.filter, "flatmap": upstream.flatmap}.get(
            kind.role
        )
        streams[op["id"]] = call(made) if call else upstream.sink(made)
    return env


def load(path: str | Path) -> Spec:
    """A spec from a .json or .yaml file."""
    text = Path(path).read_text()
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        return parse(yaml.safe_load(text))
    try:
        return parse(json.loads(text))
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path} is not valid JSON: {exc}") from None


def catalogue() -> list[dict[str, Any]]:
    """Every operator a spec may use, with its parameters (what the Builder's palette shows)."""
    return [k.describe() for k in CATALOGUE.values()]
