"""Pipelines as data (sage_client.pipeline_spec): the spec Studio's Builder saves and
`sage pipeline run` runs, built from catalogue operators only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sage_client import LocalEnvironment
from sage_client.pipeline_spec import CATALOGUE, SpecError, build, catalogue, load, parse


def _spec(*ops: dict[str, Any], edges: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    ids = [o["id"] for o in ops]
    chain = edges if edges is not None else list(zip(ids, ids[1:], strict=False))
    return {"name": "t", "operators": list(ops), "edges": [{"from": a, "to": b} for a, b in chain]}


def _run(data: dict[str, Any]) -> list[Any]:
    kept: list[Any] = []
    build(parse(data), LocalEnvironment("spec"), collect=kept.append).submit(autostop=True)
    return kept


def test_a_chain_runs_and_collects() -> None:
    out = _run(
        _spec(
            {"id": "n", "op": "source.numbers", "params": {"start": 1, "stop": 7}},
            {"id": "f", "op": "filter.greater_than", "params": {"threshold": 3}},
            {"id": "m", "op": "map.add", "params": {"amount": 0.5}},
            {"id": "c", "op": "sink.collect"},
        )
    )
    assert out == [4.5, 5.5, 6.5]


def test_text_operators_and_a_fan_out() -> None:
    data = _spec(
        {"id": "l", "op": "source.lines", "params": {"text": "a bb\n\nccc dddd"}},
        {"id": "w", "op": "flatmap.split_words"},
        {"id": "len", "op": "map.length"},
        {"id": "c", "op": "sink.collect"},
        {"id": "up", "op": "map.upper"},
        {"id": "c2", "op": "sink.collect"},
        edges=[("l", "w"), ("w", "len"), ("len", "c"), ("l", "up"), ("up", "c2")],
    )
    out = _run(data)
    assert sorted(x for x in out if isinstance(x, int)) == [1, 2, 3, 4]
    assert sorted(x for x in out if isinstance(x, str)) == ["A BB", "CCC DDDD"]


def test_chunks_overlap() -> None:
    out = _run(
        _spec(
            {"id": "l", "op": "source.lines", "params": {"text": "abcdefghij"}},
            {"id": "k", "op": "flatmap.chunk", "params": {"size": 4, "overlap": 1}},
            {"id": "c", "op": "sink.collect"},
        )
    )
    assert out == ["abcd", "defg", "ghij"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "is an object"),
        ({"operators": []}, "1..64 operators"),
        (_spec({"id": "x", "op": "os.system"}), "unknown op 'os.system'"),
        (_spec({"id": "x", "op": "map.upper"}), "needs exactly one input, has 0"),
        (
            _spec({"id": "n", "op": "source.numbers", "params": {"stop": "5"}}),
            "stop must be an int",
        ),
        (
            _spec({"id": "n", "op": "source.numbers", "params": {"stop": 2.5}}),
            "stop must be an int",
        ),
        (_spec({"id": "n", "op": "source.numbers", "params": {"rm": 1}}), "unknown params"),
        (
            _spec(
                {"id": "l", "op": "source.lines"},
                {"id": "k", "op": "flatmap.chunk", "params": {"size": 0}},
            ),
            "size must be in [1, 100000]",
        ),
        (
            _spec({"id": "a", "op": "source.numbers"}, {"id": "a", "op": "sink.collect"}),
            "used twice",
        ),
        (
            _spec(
                {"id": "s", "op": "source.numbers"},
                {"id": "a", "op": "map.upper"},
                {"id": "b", "op": "map.lower"},
                edges=[("s", "a"), ("b", "a"), ("a", "b")],
            ),
            "exactly one input, has 2",
        ),
        (
            _spec(
                {"id": "s", "op": "source.numbers"},
                {"id": "a", "op": "map.upper"},
                {"id": "b", "op": "map.lower"},
                edges=[("a", "b"), ("b", "a")],
            ),
            "cycle",
        ),
        (
            _spec(
                {"id": "s", "op": "source.numbers"},
                {"id": "k", "op": "sink.print"},
                {"id": "m", "op": "map.upper"},
                edges=[("s", "k"), ("k", "m")],
            ),
            "sink: nothing can follow it",
        ),
        (_spec({"id": "s", "op": "source.numbers"}, edges=[("s", "nope")]), "must name operators"),
    ],
)
def test_a_spec_that_cannot_be_built_says_why(data: Any, message: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse(data)
    assert message in str(raised.value)


def test_the_catalogue_describes_every_operator() -> None:
    listed = {entry["op"]: entry for entry in catalogue()}
    assert set(listed) == set(CATALOGUE)
    assert listed["map.multiply"]["params"][0]["name"] == "factor"
    assert {e["role"] for e in listed.values()} == {"source", "map", "filter", "flatmap", "sink"}


def test_yaml_and_json_files_and_the_cli(tmp_path: Path) -> None:
    data = _spec(
        {"id": "n", "op": "source.numbers", "params": {"stop": 3}},
        {"id": "m", "op": "map.multiply", "params": {"factor": 2}},
        {"id": "c", "op": "sink.collect"},
    )
    (tmp_path / "p.json").write_text(json.dumps(data))
    import yaml

    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    assert load(tmp_path / "p.yaml").name == load(tmp_path / "p.json").name == "t"
    ran = subprocess.run(
        [sys.executable, "-m", "sage_cli.main", "pipeline", "run", str(tmp_path / "p.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["0.0", "2.0", "4.0"]
    (tmp_path / "bad.json").write_text("{not json")
    bad = subprocess.run(
        [sys.executable, "-m", "sage_cli.main", "pipeline", "validate", str(tmp_path / "bad.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "is not valid JSON" in bad.stderr
