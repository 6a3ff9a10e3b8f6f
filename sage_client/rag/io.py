"""Sources and sinks: ``FileSource`` (JSONL or plain lines), ``TerminalSink``, ``FileSink`` (JSONL)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from sage_client.dataflow.api.functions import BatchFunction, SinkFunction


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every line of ``path`` as a JSON object; an error names the file and line."""
    rows: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg})") from e
            if not isinstance(row, dict):
                raise ValueError(
                    f"{path}:{lineno}: each line must be a JSON object, got {type(row).__name__}"
                )
            rows.append(row)
    return rows


class FileSource(BatchFunction):
    """Records from a file: a ``.jsonl`` file gives one dict per line, anything else one string
    per non-empty line. ``env.from_batch(FileSource, {"path": "questions.jsonl"})``."""

    def __init__(self, config: Mapping[str, Any] | str | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = {"path": config} if isinstance(config, str) else dict(config or {})
        cfg.update(kwargs)
        for alias in ("file_path", "data_path"):  # SAGE's config keys
            if not cfg.get("path") and cfg.get(alias):
                cfg["path"] = cfg[alias]
        if not cfg.get("path"):
            raise ValueError("FileSource needs 'path' (or SAGE's 'file_path' / 'data_path')")
        path = Path(cfg["path"])
        if not path.is_file():
            raise FileNotFoundError(f"FileSource: no such file {path}")
        if path.suffix.lower() == ".jsonl":
            self._records: list[Any] = read_jsonl(path)
        else:
            self._records = [
                ln.rstrip("\n")
                for ln in path.read_text(encoding="utf-8").splitlines()
                if ln.strip()
            ]
        self._next = 0

    def execute(self) -> Any:
        if self._next >= len(self._records):
            return None
        record = self._records[self._next]
        self._next += 1
        return record


def format_pair(pair: tuple[Any, Any]) -> str:
    """SAGE's generators emit ``(query, answer)``: shown as ``[Q] ...`` / ``[A] ...``."""
    return f"[Q] Question :{pair[0]}\n[A] Answer :{pair[1]}"


def format_answer(record: Mapping[str, Any], max_sources: int = 3) -> str:
    """``Q: ...`` / ``A: ...`` / ``sources: a.md#3, b.md#0`` for one record."""
    answer = f"A: {record.get('answer', '')}"
    if record.get("answer_source"):
        answer += f"  (from {record['answer_source']})"
    lines = [f"Q: {record.get('query', '')}", answer]
    if record.get("generated") is not None:
        lines.append(f"model: {' '.join(str(record['generated']).split())[:200]}")
    results = record.get("results") or []
    if results:
        cited = [f"{r.get('source', '?')}#{r.get('position', 0)}" for r in results[:max_sources]]
        lines.append("sources: " + ", ".join(cited))
    return "\n".join(lines)


class TerminalSink(SinkFunction):
    """Prints each answer with its sources (or any other record as is)."""

    _print_lock = threading.Lock()

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        stream: TextIO | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        cfg = {**(config or {}), **kwargs}
        self.max_sources = int(cfg.get("max_sources", 3))
        self.stream = stream

    def execute(self, data: Any) -> None:
        if isinstance(data, Mapping) and "query" in data:
            text = format_answer(data, self.max_sources)
        elif isinstance(data, tuple) and len(data) == 2:
            text = format_pair(data)
        else:
            text = str(data)
        with self._print_lock:
            print(text + "\n", file=self.stream or sys.stdout, flush=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


class FileSink(SinkFunction):
    """Appends each record to a JSONL file (``path``; ``append=False`` starts it anew)."""

    def __init__(self, config: Mapping[str, Any] | str | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = {"path": config} if isinstance(config, str) else dict(config or {})
        cfg.update(kwargs)
        if not cfg.get("path"):
            raise ValueError("FileSink needs 'path'")
        self.path = Path(cfg["path"])
        self.append = bool(cfg.get("append", True))
        self._file: TextIO | None = None

    def open(self) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a" if self.append else "w", encoding="utf-8")

    def execute(self, data: Any) -> None:
        self.open()
        assert self._file is not None
        self._file.write(json.dumps(_jsonable(data), ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class PrintSink(SinkFunction):
    """Prints each record as ``str(record)`` on stdout (SAGE's PrintSink / ConsoleSink);
    ``prefix`` goes before it."""

    _print_lock = threading.Lock()

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = {**(config or {}), **kwargs}
        self.prefix = str(cfg.get("prefix", ""))
        self.separator = str(cfg.get("separator", " " if self.prefix else ""))

    def execute(self, data: Any) -> None:
        with self._print_lock:
            print(f"{self.prefix}{self.separator}{data}", flush=True)


ConsoleSink = PrintSink
